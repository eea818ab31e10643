// Follows one audit's event stream with the npm `eventsource` package and prints each
// event as a JSON line {id, type, data}; exits after the terminal event.
//
//   node node_client.mjs EVENTS_URL [LAST_EVENT_ID]

import { EventSource } from "eventsource";

const TYPES = [
  "audit_queued", "audit_started", "ipc_fallback", "audit_complete", "audit_error",
  "hello", "phase_start", "phase_complete", "phase_error", "log_entry", "finding",
  "security_result", "site_type", "screenshot", "stats_update", "audit_result",
];
const TERMINAL = new Set(["audit_complete", "audit_error"]);

const [url, lastEventId] = process.argv.slice(2);

// The package's own fetch hook: how a client that has seen events resumes after them.
const resumeFetch = (input, init) =>
  fetch(input, { ...init, headers: { ...init.headers, "Last-Event-ID": lastEventId } });

const source = new EventSource(url, lastEventId ? { fetch: resumeFetch } : {});
for (const type of TYPES) {
  source.addEventListener(type, (event) => {
    process.stdout.write(JSON.stringify({ id: event.lastEventId, type, data: event.data }) + "\n");
    if (TERMINAL.has(type)) source.close();
  });
}
source.onerror = (error) => {
  if (source.readyState === EventSource.CLOSED) {
    process.stderr.write(`stream closed: ${error.message ?? error}\n`);
    process.exitCode = 1;
  }
};
