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
  $("site-type").textContent = "";
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
  },
  audit_error: (d, pos) => {
    setState("error");
    showAuditError(`The audit failed (${d.code}): ${d.error}`);
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
  badge.textContent = state;
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
  li.querySelector(".state").textContent = state;
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

function addFinding(position, f) {
  const group = document.querySelector(`#findings .sev[data-severity="${CSS.escape(f.severity)}"]`);
  if (!group) return;
  const li = el("li", "finding");
  li.dataset.eventId = String(position);
  li.dataset.findingId = f.id;
  li.append(el("p", "plain", f.plain_english));
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
  $("narrative").textContent = typeof r.narrative === "string" ? r.narrative : "";
  const recs = Array.isArray(r.recommendations) ? r.recommendations : [];
  $("recommendations").replaceChildren(...recs.map((text) => el("li", "", text)));
  renderSignals(r.signal_scores || {});
  if (r.site_type && !$("site-type").textContent) {
    const type = typeof r.site_type === "string" ? r.site_type : r.site_type.site_type;
    if (type) $("site-type").textContent = `Site type: ${String(type).replaceAll("_", " ")}`;
  }
}

function renderSignals(signals) {
  const items = [];
  for (const [name, value] of Object.entries(signals)) {
    items.push(el("dt", "", name), el("dd", "", `${value} / 100`));
  }
  $("signals").replaceChildren(...items);
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
  const meta = [audit.status, audit.tier, scoreOf(audit)].filter(Boolean).join(" · ");
  link.append(el("span", "history-meta muted", meta));
  link.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState({ audit: audit.id }, "", auditHref(audit.id));
    openAudit(audit.id);
  });
  li.append(link);
  return li;
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
