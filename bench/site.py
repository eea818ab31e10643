"""Local target sites for the audit benchmark: a small shop and a blog, served on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

PAGES: Final = 6

SHOP: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Shop {n}</title><script src="/static/app.js"></script></head><body>
<nav>{links}</nav><h1>Running shoes, model {n}</h1>
<p class="stock">Only 2 left in stock! Order in the next 10 minutes.</p>
<form action="/shop/login" method="post"><input name="email">
<input type="password" name="password"><button>Sign in</button></form>
<p>Free returns within 30 days. <a href="/shop/terms">Terms</a></p></body></html>"""

BLOG: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Notes {n}</title></head><body><nav>{links}</nav><article><h1>Post {n}</h1>
<p>A plain article about gardening, with no forms and no tricks.</p></article></body></html>"""


def _links(prefix: str) -> str:
    return " ".join(f'<a href="/{prefix}/{n}">{n}</a>' for n in range(1, PAGES + 1))


async def _page(request: web.Request) -> web.Response:
    site = request.match_info["site"]
    n = request.match_info.get("n", "0")
    template = SHOP if site == "shop" else BLOG
    html = template.format(n=n, links=_links(site))
    return web.Response(text=html, content_type="text/html")


async def _script(request: web.Request) -> web.Response:
    return web.Response(text="document.title += '';", content_type="application/javascript")


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/static/app.js", _script)
    app.router.add_get("/{site:shop|blog}/", _page)
    app.router.add_get("/{site:shop|blog}/{n}", _page)
    return app


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[str]:
    """The sites on a free port of 127.0.0.1; yields the base URL."""
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
