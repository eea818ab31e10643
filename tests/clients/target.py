"""The site the end-to-end tests audit: a small shop with dark patterns and a login form.

Served by the standard library's threading HTTP server on 127.0.0.1 with a random port,
so it answers while the test's event loop is busy driving a browser or a client. Pages
can be made slow, each slower than the one before, so that an audit lasts a few seconds
and its events are spread over that time: "mid-audit" is then a real moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Bargain Barn</title></head>
<body>
<nav><a href="/">Home</a> <a href="/deals">Deals</a> <a href="/account/login">Sign in</a>
<a href="/about">About</a></nav>
<h1>{title}</h1>
{body}
</body></html>
"""

PAGES: Final[Mapping[str, tuple[str, str]]] = {
    "/": (
        "Bargain Barn",
        "<p>Only 2 left in stock - order now!</p>"
        "<p>Hurry, offer ends in 00:09:59</p>"
        "<p>23 people are viewing this item right now.</p>"
        "<button>Add to cart</button> <a href='/deals'>No thanks, I prefer paying full price</a>",
    ),
    "/deals": (
        "Today's deals",
        "<p>Sale ends in 2 hours 15 minutes. Selling fast!</p>"
        "<p>Only 3 remaining at this price.</p>"
        "<form action='/cart' method='post'><label><input type='checkbox' name='insurance'"
        " checked> Add shipping insurance for $4.99</label><button>Buy</button></form>",
    ),
    "/account/login": (
        "Sign in",
        "<form action='/account/session' method='post'>"
        "<label>Email <input type='email' name='email'></label>"
        "<label>Password <input type='password' name='password'></label>"
        "<button>Sign in</button></form>",
    ),
    "/about": ("About us", "<p>We sell things. Terms apply.</p>"),
}


class TargetHandler(BaseHTTPRequestHandler):
    server: TargetServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        time.sleep(self.server.delays.get(path, self.server.delay))
        page = PAGES.get(path)
        if page is None:
            self._send(404, "<h1>Not found</h1>")
            return
        title, body = page
        self._send(200, PAGE.format(title=title, body=body))

    def do_POST(self) -> None:
        self._send(200, "<p>Thanks</p>")

    def _send(self, status: int, html: str) -> None:
        data = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the tests read the audit, not the target's access log


class TargetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), TargetHandler)
        self.delay = delay
        # The n-th page answers after n times the delay, so pages fetched together
        # still arrive one by one.
        self.delays = {path: delay * n for n, path in enumerate(PAGES, start=1)}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@contextmanager
def serve_target(delay: float = 0.0) -> Iterator[str]:
    """The target's base URL while the block runs; page n answers after n * `delay` seconds."""
    server = TargetServer(delay)
    thread = threading.Thread(target=server.serve_forever, name="target-site", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
