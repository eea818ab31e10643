"""A clean shop served over https under a real-looking name, its certificate from a test CA.

    ca = trustme.CA()
    with serve_https(ca, "shop.example.com") as port: ...   # on 127.0.0.1

The auditor reaches it with `--connect-to shop.example.com:443:127.0.0.1:PORT` and trusts
it with `--ca-file` (the CA's PEM), so the real fetcher validates the chain and the name.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import trustme
from aiohttp import web

HEADERS: Final = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Harbour Books</title></head>
<body><header><a href="/">Harbour Books</a> <a href="/about">About us</a>
<a href="/contact">Contact</a> <a href="/privacy">Privacy</a></header>
<main><h1>{title}</h1><p>{text}</p></main>
<footer>Harbour Books Ltd, 12 Quay Street, Bristol. Company number 01234567.</footer>
</body></html>
"""

TEXTS: Final = {
    "": ("Welcome", "Second-hand and new books, chosen by people who read them."),
    "about": ("About us", "We have run this shop on the quay since 1987."),
    "contact": ("Contact", "Write to us at 12 Quay Street or call during opening hours."),
    "privacy": ("Privacy", "We keep your address only to send what you ordered."),
}


async def page(request: web.Request) -> web.Response:
    title, text = TEXTS.get(request.match_info["name"], ("Not found", "No such page."))
    return web.Response(
        text=PAGE.format(title=title, text=text), content_type="text/html", headers=HEADERS
    )


@contextmanager
def serve_https(ca: trustme.CA, *names: str) -> Iterator[int]:
    """Serve the shop with a certificate for `names` from a thread; yield the port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    ready = threading.Event()
    box: list[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = []

    async def run() -> None:
        app = web.Application()
        app.router.add_get("/{name:[a-z]*}", page)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        stop = asyncio.Event()
        box.append((asyncio.get_running_loop(), stop, runner.addresses[0][1]))
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the https site did not start")
    loop, stop, port = box[0]
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
