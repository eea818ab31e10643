"""The scripts the deep tier runs inside pages: what they read, as plain data for the analysers.

Each is a JavaScript function given to Playwright's `evaluate`, returning JSON-able data;
`RECORDER` is an init script, installed before any of the page's own scripts run.
"""

from __future__ import annotations

from typing import Final

# Records the text of every node added once the parser is done: what script put there.
# Text the HTML itself holds is inserted while `readyState` is still "loading".
RECORDER: Final = """
(() => {
  const max = %(max)d;
  const added = [];
  Object.defineProperty(window, "__veritasAdded", { value: added });
  const record = (records) => {
    if (document.readyState === "loading") return;
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (added.length >= max) return;
        const el = node.nodeType === 1 ? node : node.parentElement;
        if (!el) continue;
        const text = (el.innerText || el.textContent || "").replace(/\\s+/g, " ").trim();
        if (text.length >= 8 && text.length <= 300 && !added.includes(text)) added.push(text);
      }
    }
  };
  const start = () => new MutationObserver(record).observe(document, {
    childList: true, subtree: true,
  });
  start();
})();
"""

ADDED_TEXTS: Final = "() => Array.from(window.__veritasAdded || [])"

# Writes the form state script left behind into attributes, so the serialised DOM shows
# the boxes ticked after script the way the raw HTML shows `checked` ones.
SYNC_FORM_STATE: Final = """
() => {
  for (const el of document.querySelectorAll("input[type=checkbox], input[type=radio]")) {
    if (el.checked) el.setAttribute("checked", ""); else el.removeAttribute("checked");
  }
}
"""

# A CSS path (`html > body > div:nth-child(2) > span:nth-child(1)`) names an element in a
# way the same page loaded again resolves the same way.
_PATH: Final = """
  const pathOf = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && e !== document.documentElement; e = e.parentElement) {
      const index = Array.prototype.indexOf.call(e.parentElement.children, e) + 1;
      parts.unshift(`${e.localName}:nth-child(${index})`);
    }
    return ["html", ...parts].join(" > ");
  };
  const visible = (el) => {
    const style = getComputedStyle(el);
    return el.getClientRects().length > 0 && style.visibility !== "hidden"
      && Number(style.opacity) > 0;
  };
"""

# Elements whose visible text is a time left (12:34, 01:02:03, 1h 2m 3s), smallest first.
READ_TIMERS: Final = (
    """
() => {
"""
    + _PATH
    + """
  const time = new RegExp(String.raw`\\b\\d{1,2}\\s*:\\s*\\d{2}(\\s*:\\s*\\d{2})?\\b`
    + String.raw`|\\b\\d+\\s*h\\w*\\s*\\d+\\s*m\\w*(\\s*\\d+\\s*s)?`, "i");
  const found = [];
  for (const el of document.body ? document.body.querySelectorAll("*") : []) {
    if (found.length >= 20) break;
    if (["SCRIPT", "STYLE", "NOSCRIPT"].includes(el.tagName)) continue;
    const text = (el.innerText || "").replace(/\\s+/g, " ").trim();
    if (text.length > 60 || !time.test(text) || !visible(el)) continue;
    const inner = Array.from(el.children).some((c) => time.test(c.innerText || ""));
    if (!inner) found.push({ path: pathOf(el), text });
  }
  return found;
}
"""
)

# The consent banner, if any: the smallest visible, overlaid box about cookies or consent
# that holds buttons, with the geometry and colours of each button and its tick boxes.
READ_CONSENT: Final = (
    """
() => {
"""
    + _PATH
    + """
  const topic = /cookie|consent|gdpr|privacy|tracking/i;
  const controls = "button, a, input[type=button], input[type=submit], [role=button]";
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== "transparent" && !/rgba\\(.*,\\s*0\\)$/.test(c)) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const overlaid = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.position === "fixed" || s.position === "sticky") return true;
      if (e.getAttribute("role") === "dialog" || e.getAttribute("aria-modal") === "true"
          || e.tagName === "DIALOG") return true;
      if (topic.test(`${e.id} ${e.className}`)) return true;
    }
    return false;
  };
  let banner = null;
  for (const el of document.body ? document.body.querySelectorAll("*") : []) {
    const text = (el.innerText || "").trim();
    if (!text || text.length > 3000 || !topic.test(text) || !visible(el)) continue;
    if (!el.querySelector(controls) || !overlaid(el)) continue;
    if (!banner || banner.contains(el)) banner = el;
  }
  if (!banner) return null;
  const buttons = [];
  for (const el of banner.querySelectorAll(controls)) {
    if (!visible(el) || buttons.length >= 20) continue;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    buttons.push({
      text: (el.innerText || el.value || "").replace(/\\s+/g, " ").trim().slice(0, 80),
      area: r.width * r.height,
      font: parseFloat(s.fontSize) || 0,
      color: s.color,
      background: background(el),
      opacity: Number(s.opacity),
    });
  }
  const boxes = [];
  for (const el of banner.querySelectorAll("input[type=checkbox]")) {
    const label = (el.labels && el.labels[0] ? el.labels[0].innerText
      : (el.parentElement ? el.parentElement.innerText : "")) || el.name || "";
    boxes.push({ label: label.replace(/\\s+/g, " ").trim().slice(0, 120),
                 checked: el.checked, disabled: el.disabled });
  }
  const text = banner.innerText.replace(/\\s+/g, " ").trim().slice(0, 300);
  return { path: pathOf(banner), text, buttons, boxes };
}
"""
)

# The viewport area of the element at a CSS path, 16 px of margin, clamped to the viewport;
# null when the element is gone or empty.
ELEMENT_BOX: Final = """
(path) => {
  const el = document.querySelector(path);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const x = Math.max(0, r.left - 16), y = Math.max(0, r.top - 16);
  const w = Math.min(innerWidth, r.right + 16) - x, h = Math.min(innerHeight, r.bottom + 16) - y;
  return w > 0 && h > 0 ? { x, y, w, h } : null;
}
"""
