"""A local test site, served on 127.0.0.1 from a thread: good pages and every hostile one.

/                    entry page: same-site links, one off-site link, a same-site script
/about /contact /products /pricing /blog /team /faq   more same-site pages
/static/app.js       a same-site script
/chain/3             a redirect chain: /chain/3 -> /chain/2 -> /chain/1 -> /chain/0 (a page)
/loop/a              /loop/a -> /loop/b -> /loop/a ...
/many/N              N redirects in a row (no loop), then a page
/bomb                gzip body that inflates to BOMB_SIZE bytes
/drip                headers at once, then one byte every DRIP_INTERVAL s, forever
/big                 BIG_SIZE bytes, no compression
/stall               never answers
/fat-header          a response header longer than any sane limit
/redirect?to=URL     one 302 to any URL
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from aiohttp import web

BOMB_SIZE: Final = 64 * 1024 * 1024
BIG_SIZE: Final = 4 * 1024 * 1024
DRIP_INTERVAL: Final = 0.1
SLOW_DELAY: Final = 0.5
SUBPAGES: Final = ("about", "contact", "products", "pricing", "blog", "team", "faq")

ENTRY = """<!doctype html>
<html><head><title>Local Shop</title><script src="/static/app.js"></script></head>
<body><h1>Welcome to Local Shop</h1>
<p>Hand-made goods since 1999. Read about our team and our return policy.</p>
{links}
<a href="http://elsewhere.invalid/page">partner</a>
<a href="mailto:shop@example.com">mail</a>
<form action="/search" method="get"><input name="q"></form>
</body></html>
"""


def _page(title: str) -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>Plain content about {title}.</p><a href='/'>home</a></body></html>"
    )


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers=SECURITY_HEADERS)


SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


async def entry(request: web.Request) -> web.Response:
    links = "\n".join(f'<a href="/{name}">{name}</a>' for name in SUBPAGES)
    return _html(ENTRY.format(links=links))


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(SLOW_DELAY)
    return await entry(request)


async def subpage(request: web.Request) -> web.Response:
    return _html(_page(request.match_info["name"].title()))


async def script(request: web.Request) -> web.Response:
    return web.Response(text="console.log('shop');\n", content_type="application/javascript")


async def chain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n == 0:
        return _html(_page("End of chain"))
    raise web.HTTPFound(f"/chain/{n - 1}")


async def loop(request: web.Request) -> web.Response:
    other = "b" if request.match_info["name"] == "a" else "a"
    raise web.HTTPFound(f"/loop/{other}")


async def many(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n == 0:
        return _html(_page("Many"))
    raise web.HTTPMovedPermanently(f"/many/{n - 1}")


async def bomb(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[BOMB],
        headers={"Content-Encoding": "gzip", "Content-Type": "text/html"},
    )


async def drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    await response.prepare(request)
    await response.write(b"<html><body>")
    try:
        while True:
            await asyncio.sleep(DRIP_INTERVAL)
            await response.write(b"x")
    except ConnectionResetError:  # the auditor gave up, as it should
        return response


async def big(request: web.Request) -> web.Response:
    return web.Response(body=b"a" * BIG_SIZE, content_type="text/html")


async def stall(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def fat_header(request: web.Request) -> web.Response:
    return web.Response(text="hi", headers={"X-Fat": "f" * 65000}, content_type="text/html")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


BOMB: Final = web.AppKey("bomb", bytes)


def make_app() -> web.Application:
    app = web.Application()
    app[BOMB] = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=9)
    app.router.add_get("/", entry)
    app.router.add_get("/static/app.js", script)
    app.router.add_get("/slow/", slow)
    app.router.add_get("/chain/{n:\\d+}", chain)
    app.router.add_get("/loop/{name:[ab]}", loop)
    app.router.add_get("/many/{n:\\d+}", many)
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/drip", drip)
    app.router.add_get("/big", big)
    app.router.add_get("/stall", stall)
    app.router.add_get("/fat-header", fat_header)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/{name:[a-z]+}", subpage)
    return app


@contextmanager
def serve_site() -> Iterator[str]:
    """Serve the site from a thread with its own loop; yields the base URL (with a port)."""
    with serve_app(make_app()) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def serve_app(app: web.Application) -> Iterator[int]:
    """Serve `app` from a thread with its own loop; yields its port on 127.0.0.1."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []
    port_box: list[int] = []

    async def run() -> None:
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_box.append(runner.addresses[0][1])
        stop.append(asyncio.Event())
        loop_box.append(asyncio.get_running_loop())
        ready.set()
        try:
            await stop[0].wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the test site did not start")
    try:
        yield port_box[0]
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(10)
