"""A pushy shop written for these tests: a product page, its checkout, and an honest twin.

Served on 127.0.0.1 from a thread with its own loop, for audits through the real auditor.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiohttp import web

PRODUCT = """<!doctype html><html><head><title>Trail Runner 3 - Stride Shoes</title></head>
<body><header><a href="/">Stride Shoes</a> <a href="/checkout">Basket</a></header>
<main><h1>Trail Runner 3</h1><p class="price">$89.00</p>
<p>Light trail shoe with a grippy sole. Free returns within 30 days.</p>
<form action="/basket/add" method="post"><button>Add to basket</button></form>
<p>Standard delivery $4.95, next working day.</p>
<a href="/checkout">Go to checkout</a></main>
<footer>Stride Shoes Ltd, 4 Quay Street</footer></body></html>"""

CHECKOUT = """<!doctype html><html><head><title>Checkout - Stride Shoes</title></head>
<body><h1>Checkout</h1><h2>Order summary</h2>
<table class="summary">
<tr><td>Trail Runner 3</td><td>$89.00</td></tr>
<tr><td>Standard delivery</td><td>$4.95</td></tr>
<tr class="fee"><td>Service fee</td><td>$6.50</td></tr>
<tr class="fee"><td>Order processing charge</td><td>$3.99</td></tr>
<tr><td><b>Total</b></td><td><b>$104.44</b></td></tr>
</table>
<form action="/pay" method="post">
<label><input type="checkbox" name="club" checked> Stride Club membership: free for 7 days,
then $19.99/month. Your membership starts automatically after 7 days.</label>
<button>Place order</button></form></body></html>"""

HONEST_CHECKOUT = """<!doctype html><html><head><title>Checkout - Stride Shoes</title></head>
<body><h1>Checkout</h1><h2>Order summary</h2>
<table class="summary">
<tr><td>Trail Runner 3</td><td>$89.00</td></tr>
<tr><td>Standard delivery</td><td>$4.95</td></tr>
<tr><td><b>Total</b></td><td><b>$93.95</b></td></tr>
</table>
<form action="/pay" method="post"><button>Place order</button></form></body></html>"""

PUSHY: Mapping[str, str] = {"/product": PRODUCT, "/checkout": CHECKOUT}
HONEST: Mapping[str, str] = {"/product": PRODUCT, "/checkout": HONEST_CHECKOUT}


def _app(pages: Mapping[str, str]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        body = pages.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


@contextmanager
def serve(pages: Mapping[str, str]) -> Iterator[str]:
    """Serve the pages from a thread; yields the base URL."""
    ready = threading.Event()
    state: dict[str, object] = {}

    async def run() -> None:
        runner = web.AppRunner(_app(pages), shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stop = asyncio.Event()
        state.update(port=runner.addresses[0][1], stop=stop, loop=asyncio.get_running_loop())
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the shop did not start")
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        loop = state["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        stop = state["stop"]
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
