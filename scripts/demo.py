"""`make demo`: the server and three small sample sites on this machine, no internet needed.

    python scripts/demo.py [--port 8080] [--sites-port 8701] [--data-dir var/demo]

The sample sites listen on 127.0.0.1 (ports SITES, SITES+1, SITES+2). The server is
started with the private-address guard open, since the sites are on this machine: it
listens on 127.0.0.1 only, and the guard closes again when the demo stops (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Pages = Mapping[str, str]

LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title></head><body><h1>{title}</h1>{body}
<nav><a href="/">Home</a> <a href="/about">About</a> <a href="/shop">Shop</a></nav>
</body></html>"""

TEA_SHOP: Pages = {
    "/": "<p>Loose-leaf teas from small gardens, packed by hand in our shop.</p>",
    "/about": "<p>We are a family business. Write to us any time; we answer within a day.</p>",
    "/shop": "<p>Green tea, 100 g: 8.50. Black tea, 100 g: 7.90. Shipping is shown before "
    "you pay.</p>",
}
BARGAIN_BARN: Pages = {
    "/": "<p>Only 2 left in stock - order now!</p><p>Hurry, offer ends in 00:09:59</p>"
    "<p>23 people are viewing this item right now.</p>"
    "<a href='/shop'>No thanks, I prefer paying full price</a>",
    "/about": "<p>We sell things. Terms apply.</p>",
    "/shop": "<p>Sale ends in 2 hours 15 minutes. Selling fast!</p>"
    "<form action='/cart' method='post'><label><input type='checkbox' name='insurance' "
    "checked> Add shipping insurance for $4.99</label><button>Buy</button></form>",
}
LOGIN_PAGE: Pages = {
    "/": "<p>Your account has been suspended. Verify your identity within 24 hours or it "
    "will be closed.</p><form action='http://collector.invalid/steal' method='post'>"
    "<label>Email <input type='email' name='email'></label>"
    "<label>Password <input type='password' name='password'></label>"
    "<button>Verify now</button></form>",
    "/about": "<p>Secure online banking.</p>",
    "/shop": "<p>Nothing here.</p>",
}
CAREFUL_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
SITES: tuple[tuple[str, str, Pages, Mapping[str, str]], ...] = (
    ("Tidy Tea Shop", "careful headers, honest pages", TEA_SHOP, CAREFUL_HEADERS),
    ("Bargain Barn", "countdowns, a pre-ticked extra, guilt wording", BARGAIN_BARN, {}),
    ("Secure Bank login", "threats and a password form that posts elsewhere", LOGIN_PAGE, {}),
)


def handler(title: str, pages: Pages, headers: Mapping[str, str]) -> type[BaseHTTPRequestHandler]:
    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            data = LAYOUT.format(title=title, body=body or "<p>Not found.</p>").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the demo's terminal shows the server, not every sample-site request

    return Site


@contextmanager
def serve(port: int, site: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", port), site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def wait_healthy(base: str, server: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the demo server did not start; its messages are above")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="the server's port")
    parser.add_argument("--sites-port", type=int, default=8701, help="the first site's port")
    parser.add_argument("--data-dir", default="var/demo", help="the server's data directory")
    args = parser.parse_args()
    # SIGTERM ends the demo like Ctrl-C: the server is stopped, not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    base = f"http://127.0.0.1:{args.port}"
    with ExitStack() as stack:
        urls = [
            stack.enter_context(serve(args.sites_port + i, handler(title, pages, headers)))
            for i, (title, _, pages, headers) in enumerate(SITES)
        ]
        # The guard opens for these three sites only, not for the rest of this machine.
        env = {**os.environ, "VERITAS_ALLOW_TARGETS": endpoints(urls)}
        command = [sys.executable, "-m", "server", "--host", "127.0.0.1"]
        command += ["--port", str(args.port), "--data-dir", args.data_dir]
        server = subprocess.Popen(command, env=env)
        try:
            wait_healthy(base, server)
            announce(base, urls)
            return server.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop(server)


def endpoints(urls: list[str]) -> str:
    """The sites as VERITAS_ALLOW_TARGETS reads them: ADDR:PORT, comma-separated."""
    return ",".join(urlsplit(url).netloc for url in urls)


def announce(base: str, urls: list[str]) -> None:
    lines = ["", "Sample sites this demo server may audit:"]
    lines += [
        f"  {url}  {title}: {what}" for url, (title, what, _, _) in zip(urls, SITES, strict=True)
    ]
    lines += [
        "",
        f"Open {base}/ and audit one of them, or from another terminal:",
        f"  .venv/bin/python -m veritas {urls[1]} --server {base} --report html -o report.html",
        f"  .venv/bin/python -m veritas --watch AUDIT_ID --server {base}",
        "A local run without the server needs the guard open for the site too:",
        f"  VERITAS_ALLOW_TARGETS={endpoints(urls[2:])} .venv/bin/python -m veritas {urls[2]}",
        "Ctrl-C stops the demo.",
        "",
    ]
    print("\n".join(lines), flush=True)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
