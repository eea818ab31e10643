"""Local sites for the deep tier: every pattern is put on the page by script, never by the HTML.

/clean           a plain shop page that must stay clean
/timer           a countdown that starts at 14:59 for every visitor (evergreen fake)
/deadline        a countdown to one fixed deadline of the server (genuine)
/toast           "... just bought ..." notifications inserted after load
/addon           a paid add-on ticked by script after load
/consent         a banner: big "Accept all", tiny grey "reject" link, a purpose pre-ticked,
                 a cookie set before any choice
/consent-forced  a banner with acceptance only
/framed          a frame from another site (WIDGETS), added by script
/private         a page whose script reaches for private addresses in every way a page can
/redirect?to=U   one 302 to U
/secret/...      what /private aims at: a hit here means the guard failed
/trap?signal=S   sends signal S (STOP, KILL) to the browser of the auditor `trap_pid` names;
                 DRIVER kills its Playwright driver, AUDITOR the auditor itself
?next=PATH       on any page: one more same-site link, to PATH

The HTML of every page is the same plain shell; only its script differs. `hits` records
every path requested, in order.
"""

from __future__ import annotations

import html
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from tests.veritas.site import serve_app

SHELL: Final = """<!doctype html>
<html><head><title>Corner Shop</title>
<script src="/static/{name}.js"></script></head>
<body><h1>Corner Shop</h1>
<p>Hand-made mugs and bowls, fired in our own kiln.</p>
<div id="offer"></div>
<form action="/basket" method="post"><div id="extras"></div>
<button type="submit">Add to basket</button></form>
<a href="/clean">home</a>{next}
</body></html>
"""

WIDGETS: Final = "widgets.test"  # a second site the guard lets through: a third party's frames

SCRIPTS: Final = {
    "clean": """
window.addEventListener("load", () => {
  document.getElementById("offer").textContent = "Free delivery on orders over 40 pounds.";
});
""",
    "timer": """
window.addEventListener("load", () => {
  let left = 14 * 60 + 59;
  const show = () => {
    const m = String(Math.floor(left / 60)).padStart(2, "0");
    const s = String(left % 60).padStart(2, "0");
    document.getElementById("offer").innerHTML = `Sale price for <b id="clock">${m}:${s}</b>`;
  };
  show();
  setInterval(() => { left -= 1; show(); }, 1000);
});
""",
    "deadline": """
window.addEventListener("load", () => {
  const show = () => {
    const left = Math.max(0, Math.round((DEADLINE - Date.now()) / 1000));
    const m = String(Math.floor(left / 60)).padStart(2, "0");
    const s = String(left % 60).padStart(2, "0");
    document.getElementById("offer").innerHTML = `Sale price for <b id="clock">${m}:${s}</b>`;
  };
  show();
  setInterval(show, 1000);
});
""",
    "toast": """
window.addEventListener("load", () => {
  const names = ["Emma from Leeds", "Tom from Bristol"];
  let i = 0;
  const pop = () => {
    const toast = document.createElement("div");
    toast.className = "toast";
    toast.textContent = `${names[i % 2]} just bought a Speckled Mug`;
    document.body.append(toast);
    i += 1;
  };
  setTimeout(pop, 100);
  setTimeout(pop, 300);
});
""",
    "addon": """
window.addEventListener("load", () => {
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = "insurance";
  label.append(box, " Breakage insurance (+\u00a34.99)");
  document.getElementById("extras").append(label);
  setTimeout(() => { box.checked = true; }, 50);
});
""",
    "consent": """
document.cookie = "visitor=abc123; path=/";
window.addEventListener("load", () => {
  const banner = document.createElement("div");
  banner.id = "banner";
  banner.style.cssText = "position:fixed;bottom:0;left:0;right:0;padding:20px;background:#fff";
  banner.innerHTML = `<p>We use cookies to improve your experience.</p>
    <label><input type="checkbox" id="ads"> Personalised advertising</label>
    <button style="font-size:20px;padding:14px 40px;background:#0a0;color:#fff">Accept all</button>
    <a href="#" style="font-size:10px;color:#ddd">reject</a>`;
  document.body.append(banner);
  document.getElementById("ads").checked = true;
});
""",
    "consent-forced": """
window.addEventListener("load", () => {
  const banner = document.createElement("div");
  banner.style.cssText = "position:fixed;top:0;left:0;right:0;padding:20px;background:#fff";
  banner.innerHTML = `<p>This site uses cookies.</p>
    <button style="font-size:16px;padding:10px 30px">Accept all</button>`;
  document.body.append(banner);
});
""",
    "framed": f"""
window.addEventListener("load", () => {{
  const frame = document.createElement("iframe");
  frame.src = `http://{WIDGETS}:${{PORT}}/clean?frame=1`;
  document.body.append(frame);
}});
""",
    "private": """
window.addEventListener("load", () => {
  const add = (tag, attrs) => {
    const el = document.createElement(tag);
    Object.assign(el, attrs);
    document.body.append(el);
  };
  const swallow = (p) => p.catch(() => {});
  swallow(fetch(`http://127.0.0.1:${PORT}/secret/fetch`));
  swallow(fetch(`https://127.0.0.1:${PORT}/secret/https`));
  const xhr = new XMLHttpRequest();
  xhr.open("GET", `http://private.test:${PORT}/secret/xhr`);
  xhr.send();
  add("img", { src: `http://localhost:${PORT}/secret/img` });
  add("iframe", { src: `http://0x7f.1:${PORT}/secret/document` });
  try { new WebSocket(`ws://127.0.0.1:${PORT}/secret/websocket`); } catch (e) {}
  swallow(fetch("/redirect?to=" + encodeURIComponent(`http://127.0.0.1:${PORT}/secret/redirect`)));
  add("img", { src: "/static/pixel.gif" });
});
""",
}
PIXEL: Final = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c000000000100010000020144003b"
)


@dataclass
class SiteState:
    hits: list[str] = field(default_factory=list)
    deadline: float = field(default_factory=lambda: time.time() + 3600)
    trap_pid: int | None = None  # the auditor whose browser /trap signals
    trapped: list[int] = field(default_factory=list)

    def seen(self, prefix: str) -> list[str]:
        return [h for h in self.hits if h.startswith(prefix)]


def make_app(state: SiteState) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: object) -> web.StreamResponse:
        state.hits.append(request.path_qs)
        return await handler(request)  # type: ignore[operator, no-any-return]

    async def page(request: web.Request) -> web.Response:
        target = request.query.get("next")
        link = f'\n<a href="{html.escape(target)}">next</a>' if target else ""
        text = SHELL.format(name=request.match_info["name"], next=link)
        return web.Response(text=text, content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        port = request.url.port
        head = f"const PORT = {port};\nconst DEADLINE = {state.deadline * 1000:.0f};\n"
        return web.Response(text=head + SCRIPTS[name], content_type="application/javascript")

    async def pixel(request: web.Request) -> web.Response:
        return web.Response(body=PIXEL, content_type="image/gif")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret", content_type="text/plain")

    async def trap(request: web.Request) -> web.Response:
        browsers = [] if state.trap_pid is None else chromium_below(state.trap_pid)
        if request.query["signal"] == "DRIVER":
            # Playwright's Node.js driver dies (as past its heap bound); the browser lives.
            drivers = [] if state.trap_pid is None else driver_below(state.trap_pid)
            for pid in drivers:
                os.kill(pid, signal.SIGKILL)
                state.trapped.append(pid)
        elif request.query["signal"] == "AUDITOR":
            if browsers and state.trap_pid is not None:
                # The auditor itself dies at once (as when a killed server takes it along).
                state.trapped.extend(browsers)
                os.kill(state.trap_pid, signal.SIGKILL)
        else:
            sig = getattr(signal, "SIG" + request.query["signal"])
            for pid in browsers[:1]:
                os.kill(pid, sig)
                state.trapped.append(pid)
        return web.Response(text=SHELL.format(name="clean", next=""), content_type="text/html")

    app = web.Application(middlewares=[record])
    app.router.add_get("/static/pixel.gif", pixel)
    app.router.add_get("/static/{name}.js", script)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/secret/{rest:.*}", secret)
    app.router.add_get("/trap", trap)
    app.router.add_get("/{name:[a-z-]+}", page)
    return app


def chromium_below(pid: int) -> list[int]:
    """Every Chromium process below `pid`, the browser's main process first."""
    from veritas.browser.launch import descendants

    found = []
    for child in descendants(pid)[1:]:
        try:
            with open(f"/proc/{child}/comm") as comm:
                if "chrom" in comm.read():
                    found.append(child)
        except OSError:
            continue
    return found


def driver_below(pid: int) -> list[int]:
    """Playwright's driver processes below `pid` (`node ... run-driver`)."""
    from veritas.browser.launch import descendants

    found = []
    for child in descendants(pid)[1:]:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as command:
                if b"run-driver" in command.read().split(b"\0"):
                    found.append(child)
        except OSError:
            continue
    return found


@contextmanager
def serve_site(state: SiteState) -> Iterator[int]:
    """Serve the site from a thread with its own loop; yields its port on 127.0.0.1."""
    with serve_app(make_app(state)) as port:
        yield port
