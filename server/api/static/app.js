// The live audit page: starts audits, follows their event stream, renders what arrives.
//
// Every string from the server reaches the page through textContent, never as markup.
// The stream is the browser's own EventSource: it reconnects by itself and sends
// Last-Event-ID, so the page only has to ignore anything it has already rendered.

const EVENT_TYPES = [
  "audit_queued", "audit_started", "ipc_fallback", "audit_complete", "audit_error",
  "hello", "phase_start", "phase_complete", "phase_error", "log_entry", "finding",
  "security_result", "site_type", "screenshot", "stats_update", "audit_result",
];
const TERMINAL = new Set(["audit_complete", "audit_error"]);
const PHASE_STATE = { phase_start: "running", phase_complete: "done", phase_error: "error" };
const RISK_TEXT = {
  trusted: "Trusted",
  probably_safe: "Probably safe",
  suspicious: "Suspicious",
  high_risk: "High risk",
  likely_fraudulent: "Likely fraudulent",
};
const MODULE_NAMES = {
  security_headers: "Security headers",
  tls: "Encryption (TLS)",
  redirect_chain: "Redirects",
  form_validation: "Forms",
  js_analysis: "Scripts",
  phishing: "Phishing",
};
// Words for the codes the server and the auditor use, so the simple view shows no code.
const STATE_TEXT = {
  idle: "Not started",
  connecting: "Connecting",
  queued: "Waiting for a worker",
  running: "Running",
  done: "Finished",
  error: "Failed",
};
const PHASE_TEXT = { waiting: "Waiting", running: "In progress", done: "Done", error: "Failed" };
const STATUS_TEXT = { queued: "Waiting", running: "Running", complete: "Finished", error: "Failed" };
const TIER_TEXT = { quick_scan: "Quick scan", standard_audit: "Standard audit", deep_forensic: "Deep forensic" };
const ERROR_TEXT = {
  crashed: "the auditor stopped unexpectedly",
  timeout: "it took longer than its time limit",
  cancelled: "it was cancelled",
  no_result: "the site could not be judged",
  interrupted: "the server restarted during the audit",
  spawn_failed: "the auditor could not be started",
};
const IMAGE_MIME = /^image\/(png|jpeg|webp|gif)$/;
const MAX_LOG_LINES = 2000; // the page keeps the newest lines, the server keeps them all
const HISTORY_LIMIT = 20;

const $ = (id) => document.getElementById(id);

// What the page has seen of the current stream; exposed read-only for diagnostics.
const stats = { received: 0, duplicates: 0, errors: 0, opens: 0 };
window.veritas = { stats, audit: () => (current ? current.id : null) };

let token = ""; // the API token lives in this variable only, never in storage or the URL bar
let current = null; // { id, source, lastId, terminal }

// ---------- HTTP ----------

function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(method, path, body) {
  const headers = { Accept: "application/json", ...authHeaders() };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { response, data };
}

function errorMessage(response, data) {
  const detail = data && data.error && typeof data.error.message === "string"
    ? data.error.message : response.statusText || "request failed";
  switch (response.status) {
    case 400: return `The request was refused: ${detail}`;
    case 401: return `An API token is needed (open "API token" above): ${detail}`;
    case 403: return `This address may not be audited: ${detail}`;
    case 404: return `Not found: ${detail}`;
    case 413: return `The request is too large: ${detail}`;
    case 429: {
      const wait = response.headers.get("Retry-After");
      return `The server is busy${wait ? `; try again in ${wait} s` : ""}: ${detail}`;
    }
    default: return `The server answered ${response.status}: ${detail}`;
  }
}

function eventsUrl(id) {
  const path = `/audits/${encodeURIComponent(id)}/events`;
  // EventSource cannot send headers: the token travels as a query parameter instead.
  return token ? `${path}?access_token=${encodeURIComponent(token)}` : path;
}

// ---------- starting an audit ----------

async function startAudit(event) {
  event.preventDefault();
  showFormError("");
  token = $("token").value.trim();
  const url = $("url").value.trim();
  if (!url) {
    showFormError("Enter the address of the site to audit.");
    return;
  }
  const body = { url, tier: $("tier").value, verdict_mode: $("verdict-mode").value };
  $("start").disabled = true;
  try {
    const { response, data } = await api("POST", "/audits", body);
    if (!response.ok || !data || typeof data.id !== "string") {
      showFormError(errorMessage(response, data));
      return;
    }
    history.pushState({ audit: data.id }, "", auditHref(data.id));
    openAudit(data.id);
    loadHistory();
  } catch (err) {
    showFormError(`Cannot reach the server: ${err.message}`);
  } finally {
    $("start").disabled = false;
  }
}

function showFormError(text) {
  $("form-error").textContent = text;
  $("form-error").hidden = !text;
}

function auditHref(id) {
  return `?audit=${encodeURIComponent(id)}`;
}

// ---------- following an audit ----------

function openAudit(id) {
  closeStream();
  resetAudit(id);
  const source = new EventSource(eventsUrl(id));
  current = { id, source, lastId: 0, terminal: false };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => receive(source, type, message));
  }
  source.onopen = () => {
    stats.opens += 1;
    setStreamStatus(stats.opens > 1 ? "Reconnected; live." : "Live.");
  };
  source.onerror = () => streamError(source);
}

function closeStream() {
  if (current && current.source) current.source.close();
}

function receive(source, type, message) {
  if (!current || current.source !== source) return;
  const position = Number(message.lastEventId);
  if (Number.isInteger(position) && position > 0) {
    if (position <= current.lastId) {
      stats.duplicates += 1; // the server promises none; counted so a test can prove it
      return;
    }
    current.lastId = position;
  }
  stats.received += 1;
  let data;
  try {
    data = JSON.parse(message.data);
  } catch {
    return;
  }
  render(type, data, position);
  if (TERMINAL.has(type)) finish(source);
}

function finish(source) {
  current.terminal = true;
  source.close(); // no reconnect after the last event: the server would answer 204
  loadHistory();
}

async function streamError(source) {
  if (!current || current.source !== source || current.terminal) return;
  stats.errors += 1;
  if (source.readyState === EventSource.CONNECTING) {
    setStreamStatus("Connection lost; reconnecting…");
    return;
  }
  // Closed for good: a 204 (nothing left to send) or an error status. Ask which.
  const id = current.id;
  const { response, data } = await api("GET", `/audits/${encodeURIComponent(id)}`);
  if (!current || current.id !== id) return;
  if (!response.ok) {
    showAuditError(errorMessage(response, data));
    setStreamStatus("Stream closed.");
    return;
  }
  setStreamStatus("Finished.");
  if (data && data.result && $("result").hidden) renderResult(data.result);
  if (data && data.result) showReportActions();
}

function setStreamStatus(text) {
  $("stream-status").textContent = text;
}

function showAuditError(text) {
  $("audit-error").textContent = text;
  $("audit-error").hidden = !text;
}

// ---------- rendering ----------

function resetAudit(id) {
  stats.received = 0;
  stats.duplicates = 0;
  stats.errors = 0;
  stats.opens = 0;
  $("audit").hidden = false;
  $("audit-id").textContent = `#${id}`;
  $("audit-url").textContent = "";
  setState("connecting");
  setProgress(0);
  setStreamStatus("Connecting…");
  showAuditError("");
  for (const li of $("phases").children) setPhase(li, "waiting", "");
  $("log").replaceChildren();
  for (const group of document.querySelectorAll("#findings .sev")) {
    group.hidden = true;
    group.querySelector("ul").replaceChildren();
  }
  $("finding-count").textContent = "0";
  $("security-results").replaceChildren();
  $("header-grade").textContent = "–";
  $("header-grade").dataset.grade = "";
  $("result").hidden = true;
  $("report-actions").hidden = true;
  $("site-type").textContent = "";
  seenSentences.clear();
}

const RENDERERS = {
  audit_queued: (d) => {
    $("audit-url").textContent = d.url;
    setState("queued");
  },
  audit_started: () => setState("running"),
  hello: () => setState("running"),
  phase_start: renderPhase,
  phase_complete: renderPhase,
  phase_error: renderPhase,
  log_entry: (d, pos) => addLog(pos, d.level, d.agent, d.message),
  ipc_fallback: (d, pos) => addLog(pos, "warning", "server", `event channel ${d.from} → ${d.to}: ${d.reason}`),
  finding: (d, pos) => addFinding(pos, d.finding),
  security_result: (d, pos) => addModule(pos, d.module, d.result),
  site_type: (d) => {
    $("site-type").textContent = `Site type: ${d.site_type.replaceAll("_", " ")}`;
  },
  screenshot: addScreenshot,
  stats_update: () => {},
  audit_result: (d) => renderResult(d.result),
  audit_complete: (d) => {
    setState("done");
    setProgress(100);
    setStreamStatus(`Finished in ${Number(d.elapsed).toFixed(1)} s.`);
    showReportActions();
  },
  audit_error: (d, pos) => {
    setState("error");
    const why = ERROR_TEXT[d.code];
    showAuditError(why ? `The audit failed: ${why}. ${d.error}` : `The audit failed: ${d.error}`);
    addLog(pos, "error", "server", d.error);
    setStreamStatus("Stopped.");
  },
};

function render(type, data, position) {
  const renderer = RENDERERS[type];
  if (renderer) renderer(data, position);
}

function setState(state) {
  const badge = $("audit-state");
  badge.dataset.state = state;
  badge.textContent = STATE_TEXT[state] || state;
  $("cancel").hidden = !["connecting", "queued", "running"].includes(state);
}

function setProgress(pct) {
  const value = Math.max(0, Math.min(100, Math.round(Number(pct) || 0)));
  $("progress-bar").style.width = `${value}%`;
  $("progress").setAttribute("aria-valuenow", String(value));
  $("progress-text").textContent = `${value}%`;
}

function renderPhase(d) {
  const li = $("phases").querySelector(`li[data-phase="${CSS.escape(d.phase)}"]`);
  const state = d.error !== undefined ? "error" : d.summary !== undefined ? "done" : "running";
  if (li) setPhase(li, state, d.error ? `${d.message} (${d.error})` : d.message);
  setProgress(d.pct);
}

function setPhase(li, state, message) {
  li.dataset.state = state;
  li.querySelector(".state").textContent = PHASE_TEXT[state] || state;
  li.querySelector(".msg").textContent = message || "";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function addLog(position, level, agent, message) {
  const li = el("li", `log-line level-${safeClass(level)}`);
  li.dataset.eventId = String(position);
  li.append(el("span", "agent", agent), el("span", "message", message));
  const log = $("log");
  log.append(li);
  while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

function safeClass(text) {
  return String(text).replace(/[^a-z0-9_-]/gi, "");
}

// The first finding with a given sentence, and the pages it was seen on: a later finding
// that says the same thing adds its page there and shows only in the expert view.
const seenSentences = new Map();

function addFinding(position, f) {
  const group = document.querySelector(`#findings .sev[data-severity="${CSS.escape(f.severity)}"]`);
  if (!group) return;
  const li = el("li", "finding");
  li.dataset.eventId = String(position);
  li.dataset.findingId = f.id;
  const key = String(f.plain_english);
  const first = seenSentences.get(key);
  if (first) {
    li.classList.add("repeat");
    first.pages.add(f.url);
    first.seen.textContent = `Seen on ${first.pages.size} pages.`;
    first.seen.hidden = first.pages.size < 2;
  } else {
    const seen = el("p", "seen");
    seen.hidden = true;
    seenSentences.set(key, { pages: new Set([f.url]), seen });
    li.append(el("p", "plain", f.plain_english), seen);
  }
  if (f.evidence) li.append(el("blockquote", "evidence", f.evidence));
  const expert = el("p", "expert-only detail");
  expert.append(
    el("span", "pattern", f.pattern_type),
    el("span", "description", f.description),
    el("span", "confidence", `confidence ${Math.round(f.confidence * 100)}%`),
    el("span", "where", f.url),
  );
  li.append(expert);
  group.querySelector("ul").append(li);
  group.hidden = false;
  $("finding-count").textContent = String(document.querySelectorAll("#findings li.finding").length);
}

function addModule(position, module, result) {
  const li = el("li", "module");
  li.dataset.eventId = String(position);
  li.dataset.module = module;
  const name = MODULE_NAMES[module] || module.replaceAll("_", " ");
  li.append(el("span", "module-name", name), el("span", "module-score", `${result.score} / 100`));
  if (typeof result.grade === "string") li.append(el("span", "module-grade", `grade ${result.grade}`));
  const count = Array.isArray(result.findings) ? result.findings.length : 0;
  li.append(el("span", "module-findings muted", `${count} finding${count === 1 ? "" : "s"}`));
  $("security-results").append(li);
  if (module === "security_headers" && typeof result.grade === "string") {
    $("header-grade").textContent = result.grade;
    $("header-grade").dataset.grade = result.grade.charAt(0);
  }
}

// The stream names the image (`src`, its own route); older events carried it inline.
function addScreenshot(d, position) {
  if (!IMAGE_MIME.test(d.mime)) return;
  const src = typeof d.src === "string" && d.src.startsWith("/audits/") ? d.src : null;
  const inline = typeof d.data_b64 === "string" && d.data_b64 ? d.data_b64 : null;
  if (!src && !inline) return;
  const figure = el("figure", "shot");
  figure.dataset.eventId = String(position);
  const img = el("img");
  img.alt = `Screenshot: ${d.label}`;
  if (inline) img.src = `data:${d.mime};base64,${inline}`;
  else if (!token) img.src = src;
  else loadWithToken(img, src); // an <img> cannot send the Authorization header
  figure.append(img, el("figcaption", "", `${d.label}: ${d.url}`));
  $("log").before(figure);
}

async function loadWithToken(img, src) {
  try {
    const response = await fetch(src, { headers: authHeaders() });
    if (!response.ok) return;
    const blob = await response.blob();
    const reader = new FileReader();
    reader.onload = () => { img.src = String(reader.result); }; // a data: URL, allowed by the CSP
    reader.readAsDataURL(blob);
  } catch (err) {
    // the picture is a bonus: the audit's events do not depend on it
  }
}

function renderResult(r) {
  const score = Math.max(0, Math.min(100, Number(r.trust_score) || 0));
  $("result").hidden = false;
  $("trust-score").textContent = String(score);
  $("gauge").style.setProperty("--score", String(score));
  $("gauge").setAttribute("aria-valuenow", String(score));
  $("gauge").dataset.risk = safeClass(r.risk_level);
  $("risk-level").textContent = RISK_TEXT[r.risk_level] || String(r.risk_level);
  $("risk-level").dataset.risk = safeClass(r.risk_level);
  const shown = [...seenSentences.keys()];
  $("narrative").textContent = typeof r.narrative === "string" ? unrepeated(r.narrative, shown) : "";
  const recs = Array.isArray(r.recommendations) ? r.recommendations : [];
  const narrative = $("narrative").textContent;
  const unique = [...new Set(recs)].filter((text) => !narrative.includes(text));
  $("recommendations").replaceChildren(...unique.map((text) => el("li", "", text)));
  renderSignals(r.signal_scores || {});
  if (r.site_type && !$("site-type").textContent) {
    const type = typeof r.site_type === "string" ? r.site_type : r.site_type.site_type;
    if (type) $("site-type").textContent = `Site type: ${String(type).replaceAll("_", " ")}`;
  }
}

// The narrative without the sentences the findings already show (protocol/report.py does
// the same for the report); a line left with only its label goes too.
function unrepeated(text, shown) {
  const kept = [];
  for (let line of text.split("\n")) {
    for (const sentence of shown) if (sentence) line = line.split(sentence).join("");
    const rest = line.split(/\s+/).filter(Boolean).join(" ");
    if (rest && !rest.endsWith(":")) kept.push(rest);
  }
  return kept.join("\n");
}

function renderSignals(signals) {
  const items = [];
  for (const [name, value] of Object.entries(signals)) {
    items.push(el("dt", "", name), el("dd", "", `${value} / 100`));
  }
  $("signals").replaceChildren(...items);
}

// ---------- cancel and report ----------

async function cancelAudit() {
  if (!current || current.terminal) return;
  $("cancel").disabled = true;
  try {
    const { response, data } = await api("DELETE", `/audits/${encodeURIComponent(current.id)}`);
    if (!response.ok) showAuditError(errorMessage(response, data));
  } catch (err) {
    showAuditError(`Cannot reach the server: ${err.message}`);
  } finally {
    $("cancel").disabled = false;
  }
}

function reportPath(id) {
  return `/audits/${encodeURIComponent(id)}/report`;
}

function showReportActions() {
  if (!current) return;
  $("report-link").href = reportPath(current.id);
  $("report-actions").hidden = false;
}

// Fetched with the token (a plain link cannot send it), then saved from memory.
async function downloadReport() {
  if (!current) return;
  const id = current.id;
  const response = await fetch(`${reportPath(id)}?download=1`, { headers: authHeaders() });
  if (!response.ok) {
    showAuditError(`The report is not available (${response.status}).`);
    return;
  }
  const href = URL.createObjectURL(await response.blob());
  const link = el("a");
  link.href = href;
  link.download = `veritas-${id}.html`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

// ---------- simple / expert ----------

function setView(view) {
  document.body.classList.toggle("view-expert", view === "expert");
  $("view-simple").setAttribute("aria-pressed", String(view !== "expert"));
  $("view-expert").setAttribute("aria-pressed", String(view === "expert"));
}

// ---------- history ----------

function historyItems(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.audits)) return data.audits;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

async function loadHistory() {
  let items = [];
  try {
    const { response, data } = await api("GET", `/audits?limit=${HISTORY_LIMIT}`);
    if (response.ok) items = historyItems(data);
  } catch {
    items = [];
  }
  $("history").replaceChildren(...items.filter((a) => a && typeof a.id === "string").map(historyEntry));
  $("history-empty").hidden = items.length > 0;
}

function historyEntry(audit) {
  const li = el("li", "history-item");
  const link = el("a", "history-link");
  link.href = auditHref(audit.id);
  link.dataset.auditId = audit.id;
  link.append(el("span", "history-url", audit.url || audit.id));
  const meta = [
    STATUS_TEXT[audit.status] || audit.status,
    TIER_TEXT[audit.tier] || audit.tier,
    scoreOf(audit),
    whenOf(audit),
  ].filter(Boolean).join(" · ");
  link.append(el("span", "history-meta muted", meta));
  const reason = reasonOf(audit);
  if (reason) link.append(el("span", "history-reason muted", reason));
  link.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState({ audit: audit.id }, "", auditHref(audit.id));
    openAudit(audit.id);
  });
  li.append(link);
  return li;
}

function whenOf(audit) {
  const stamp = Number(audit.created_at);
  if (!Number.isFinite(stamp) || stamp <= 0) return "";
  return new Date(stamp * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// Why the audit ended as it did: the verdict in words, or what stopped it.
function reasonOf(audit) {
  if (audit.status === "error") {
    const why = ERROR_TEXT[audit.error_code] || "it failed";
    return audit.error ? `Stopped: ${why} (${audit.error})` : `Stopped: ${why}`;
  }
  return audit.risk_level ? RISK_TEXT[audit.risk_level] || "" : "";
}

function scoreOf(audit) {
  const score = audit.trust_score ?? (audit.result && audit.result.trust_score);
  return score === undefined || score === null ? "" : `score ${score}`;
}

// ---------- start-up ----------

function auditFromLocation() {
  const id = new URLSearchParams(location.search).get("audit");
  return id && id.length <= 200 ? id : null;
}

function init() {
  $("audit-form").addEventListener("submit", startAudit);
  $("token").addEventListener("change", () => {
    token = $("token").value.trim();
    loadHistory();
    if (current && !current.terminal && !$("audit-error").hidden) openAudit(current.id);
  });
  $("history-refresh").addEventListener("click", loadHistory);
  $("cancel").addEventListener("click", cancelAudit);
  $("report-download").addEventListener("click", downloadReport);
  $("view-simple").addEventListener("click", () => setView("simple"));
  $("view-expert").addEventListener("click", () => setView("expert"));
  $("verdict-mode").addEventListener("change", () => setView($("verdict-mode").value));
  window.addEventListener("popstate", () => {
    const id = auditFromLocation();
    if (id) openAudit(id);
  });
  const id = auditFromLocation();
  if (id) openAudit(id); // a reload resumes the audit in the URL; it never starts a new one
  loadHistory();
}

init();
