"""The deep benchmark's local sites, served from a thread on 127.0.0.1: a plain one and a shop.

    with serve() as port:  http://127.0.0.1:{port}/{site}/{timer,toast,consent}

Each page puts one pattern on screen by script: a countdown (`timer`), "just bought"
notifications (`toast`), a consent banner (`consent`); each links to the other two.

plain  a heading and a line of text: what the deep tier costs with next to nothing to draw
       (its viewport JPEG is about 9 KiB)
shop   what a shop's page looks like: a stylesheet, a header with navigation and search, a
       hero picture, twelve product cards with photos, a reviews widget in a frame from
       another site (`localhost`, a different site from `127.0.0.1`), a footer. The photos
       are SVG with fractal noise, which a JPEG encoder treats as it treats photographs
       (grain, no flat areas); 25 real shop product pages rendered from their HTML alone,
       without any of their pictures, gave viewport JPEGs of 45-72 KiB (quartiles) at the
       same size and quality, so a page with its pictures is above that.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from aiohttp import web

SITES: Final = ("plain", "shop")
PAGES: Final = ("timer", "toast", "consent")

SCRIPTS: Final = {
    "timer": """window.addEventListener("load", () => { let left = 899;
  const two = (n) => String(n).padStart(2, "0");
  const show = () => { document.getElementById("spot").textContent =
    `Ends in ${two(Math.floor(left / 60))}:${two(left % 60)}`; };
  show(); setInterval(() => { left -= 1; show(); }, 1000); });""",
    "toast": """window.addEventListener("load", () => setTimeout(() => {
  const d = document.createElement("div"); d.className = "toast";
  d.textContent = "Emma from Leeds just bought a bowl"; document.body.append(d); }, 200));""",
    "consent": """window.addEventListener("load", () => { const b = document.createElement("div");
  b.style.cssText = "position:fixed;bottom:0;left:0;right:0;background:#fff;padding:16px";
  b.innerHTML = '<p>We use cookies.</p><button style="font-size:20px">Accept all</button>';
  document.body.append(b); });""",
}

PLAIN: Final = """<!doctype html><html><head><title>Bench Shop</title>
<script src="static/{name}.js"></script></head><body><h1>Bench Shop</h1>
<p>Stoneware, glazed by hand.</p><div id="spot"></div>
<a href="timer">offers</a> <a href="toast">news</a> <a href="consent">about</a>
</body></html>"""

SHOP: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Kiln &amp; Co: {title}</title><link rel="stylesheet" href="static/shop.css">
<script src="static/{name}.js"></script></head><body>
<header><b class="logo">Kiln &amp; Co</b><nav>{nav}</nav>
<input type="search" placeholder="Search 2,400 hand-made pieces"><a href="#">Basket (0)</a></header>
<section class="hero"><img src="/img/hero.svg" alt="" width="1280" height="300">
<div><h1>{title}</h1><p>Stoneware from our own kiln, glazed by hand in small batches.</p>
<a class="cta" href="timer">Shop the sale</a></div></section>
<div id="spot" class="spot"></div>
<main class="grid">{cards}</main>
<iframe class="reviews" src="http://localhost:{port}/widget" title="Reviews"></iframe>
<footer><p>Free delivery over &pound;40 &middot; 30-day returns &middot; Secure payment</p>
<nav>{nav}</nav></footer></body></html>"""

NAV: Final = (
    ("Mugs", "#"),
    ("Bowls", "#"),
    ("Plates", "#"),
    ("Vases", "#"),
    ("Gifts", "#"),
    ("Sale", "timer"),
    ("New in", "toast"),
    ("Our studio", "consent"),
)
CARD: Final = """<article><img src="/img/p{n}.svg" alt="" width="280" height="210">
<h3>{name}</h3><p class="stars">&#9733;&#9733;&#9733;&#9733;&#9734; ({reviews})</p>
<p class="price">&pound;{price}</p><button>Add to basket</button></article>"""
GLAZES: Final = ("Speckled", "Celadon", "Tenmoku", "Ash", "Cobalt", "Shino")
SHAPES: Final = ("mug", "bowl")

STYLE: Final = """body{margin:0;font:15px/1.5 Georgia,serif;color:#2b2b2b;background:#faf7f2}
header{display:flex;gap:24px;align-items:center;padding:14px 32px;background:#1f3a34;color:#fff}
header nav a,footer nav a{color:inherit;margin-right:14px;text-decoration:none}
header input{flex:1;padding:8px;border-radius:4px;border:0}.logo{font-size:24px}
.hero{position:relative;height:300px;overflow:hidden}.hero img{position:absolute}
.hero div{position:absolute;left:48px;top:60px;color:#fff;text-shadow:0 1px 4px #000}
.hero h1{font-size:44px;margin:0}.cta{background:#c8553d;color:#fff;padding:10px 22px}
.spot{padding:8px 32px;font-weight:bold;color:#b00}
.grid{display:grid;grid-template-columns:repeat(4,280px);gap:24px;padding:24px 32px}
article{background:#fff;border:1px solid #e5ded3;border-radius:6px;padding:0 0 12px}
article h3,article p{margin:6px 12px}.price{font-size:18px;color:#1f3a34}
article button{margin:0 12px;padding:6px 14px;background:#1f3a34;color:#fff;border:0}
.stars{color:#d9a404}.reviews{width:600px;height:160px;margin:0 32px;border:1px solid #ddd}
footer{padding:24px 32px;background:#1f3a34;color:#eee}
.toast{position:fixed;left:16px;bottom:16px;background:#fff;padding:12px}"""

# A product photograph, as far as a JPEG encoder can tell: a lit object on a backdrop,
# under fractal noise (grain).
PHOTO: Final = """<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">
<defs><radialGradient id="g" cx="40%" cy="35%"><stop offset="0" stop-color="hsl({hue},55%,78%)"/>
<stop offset="1" stop-color="hsl({hue},45%,28%)"/></radialGradient>
<filter id="t"><feTurbulence type="fractalNoise" baseFrequency="0.8" numOctaves="3" seed="{seed}"/>
<feColorMatrix type="saturate" values="0"/>
<feComponentTransfer><feFuncA type="linear" slope="0.3"/></feComponentTransfer></filter></defs>
<rect width="100%" height="100%" fill="hsl({backdrop},20%,90%)"/>
<ellipse cx="50%" cy="55%" rx="32%" ry="36%" fill="url(#g)"/>
<rect width="100%" height="100%" filter="url(#t)"/></svg>"""

WIDGET: Final = """<!doctype html><html><body style="font:14px sans-serif;margin:8px">
<b>4.6 out of 5</b> from 1,284 reviews<p>&ldquo;Lovely weight, the glaze is even nicer in
person.&rdquo; &mdash; Sam</p><p>&ldquo;Arrived well packed, two days early.&rdquo; &mdash;
Priya</p></body></html>"""


def shop_page(name: str, port: int) -> str:
    nav = "".join(f'<a href="{href}">{html.escape(item)}</a>' for item, href in NAV)
    cards = "".join(
        CARD.format(
            n=n,
            name=f"{GLAZES[n % len(GLAZES)]} {SHAPES[n % 2]}",
            reviews=37 + 11 * n,
            price=f"{18 + 3 * n}.00",
        )
        for n in range(12)
    )
    title = {"timer": "Winter sale", "toast": "New arrivals", "consent": "Our studio"}[name]
    return SHOP.format(title=title, name=name, nav=nav, cards=cards, port=port)


def photo(name: str) -> str:
    if name == "hero":
        return PHOTO.format(w=1280, h=300, hue=24, backdrop=200, seed=99)
    n = int(name.removeprefix("p"))
    return PHOTO.format(w=280, h=210, hue=(n * 47) % 360, backdrop=(n * 83) % 360, seed=n)


def make_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        site, name = request.match_info["site"], request.match_info["name"]
        port = request.url.port or 80
        text = PLAIN.format(name=name) if site == "plain" else shop_page(name, port)
        return web.Response(text=text, content_type="text/html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "shop.css":
            return web.Response(text=STYLE, content_type="text/css")
        return web.Response(text=SCRIPTS[name.removesuffix(".js")], content_type="text/javascript")

    async def image(request: web.Request) -> web.Response:
        return web.Response(text=photo(request.match_info["name"]), content_type="image/svg+xml")

    async def widget(request: web.Request) -> web.Response:
        return web.Response(text=WIDGET, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{site:plain|shop}/static/{name}", static)
    app.router.add_get("/{site:plain|shop}/{name:timer|toast|consent}", page)
    app.router.add_get("/img/{name:hero|p[0-9]+}.svg", image)
    app.router.add_get("/widget", widget)
    return app


@contextmanager
def serve() -> Iterator[int]:
    """Both sites on a free port of 127.0.0.1, from a thread with its own loop; the port."""
    ready, box = threading.Event(), []

    async def run() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stop = asyncio.Event()
        box.extend([runner.addresses[0][1], stop, asyncio.get_running_loop()])
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the bench site did not start")
    try:
        yield box[0]
    finally:
        box[2].call_soon_threadsafe(box[1].set)
        thread.join(10)
