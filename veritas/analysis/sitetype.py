"""What kind of site this is (ecommerce, login/financial, blog/content, saas, other).

Each page adds weighted cues to each kind; the kind with most evidence wins. The strongest
cues are the ones a site writes for machines: schema.org data (a `Product` with an `Offer`
for a shop page, a `NewsArticle` for an article) and `og:type`. Visible cues come next, in
the languages shops are written in: an add-to-basket button, a price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from veritas.analysis import html
from veritas.analysis.darkpatterns import BUY_CONTROL
from veritas.analysis.forms import carries
from veritas.analysis.result import SiteType
from veritas.page import Page, Site

# Each cue is (weight, pattern over the visible text, titles and link addresses).
_CUES: Mapping[str, tuple[tuple[float, re.Pattern[str]], ...]] = {
    "ecommerce": (
        (
            3.0,
            re.compile(
                r"add to (cart|basket|bag|trolley)|buy (it )?now|checkout|shopping (cart|bag)|"
                r"in den (warenkorb|einkaufswagen)|ajouter au panier|a[ñn]adir al (carrito|cesta)|"
                r"agregar al carrito|adicionar (ao|à) (carrinho|sacola)|aggiungi al carrello|"
                r"in (de )?winkel(wagen|mand)|dodaj do koszyka|l[äa]gg i varukorgen|"
                r"l[æa]g i kurv|legg i handlekurv|カートに入れる|加入购物车|sepete ekle|в корзину|"
                r"購物車|购物车|結帳|结账|立即購買|立即购买|장바구니|"
                r"p[řr]idat do ko[šs][íi]ku|kos[áa]rba",
                re.I,
            ),
        ),
        (
            1.5,
            re.compile(
                r"(?:[$£€¥₹]|R\$|zł|CHF|USD|EUR|GBP)\s?\d[\d.,]*|"
                r"\d[\d.,]*\s?(?:[$£€¥₹](?!\w)|(?:zł|Kč|kr|kn|CHF|EUR|USD)\b)|\bfree shipping|"
                r"\bin stock\b",
                re.I,
            ),
        ),
        (1.0, re.compile(r"/(cart|basket|checkout|product|shop)s?\b", re.I)),
    ),
    "login_financial": (
        (
            2.0,
            re.compile(
                r"online banking|account number|routing number|wire transfer|"
                r"credit card|loan|mortgage|investment|wallet|crypto",
                re.I,
            ),
        ),
        (1.0, re.compile(r"\b(sign|log) ?in\b|forgot (your )?password", re.I)),
    ),
    "saas": (
        (
            2.5,
            re.compile(
                r"free trial|per (user|seat)|/ ?mo(nth)?\b|pricing|start for free|"
                r"request a demo|book a demo",
                re.I,
            ),
        ),
        (1.0, re.compile(r"\bapi\b|integrations|dashboard|docs|sign up", re.I)),
    ),
    "blog_content": (
        (
            2.0,
            re.compile(
                r"\b(read more|posted (on|by)|comments?|author|archives?|subscribe "
                r"to (our|the) newsletter)\b",
                re.I,
            ),
        ),
        (1.0, re.compile(r"/(blog|news|article|posts?|\d{4}/\d{2})/", re.I)),
    ),
}
# What a page's markup says it is, for machines: (kind, weight, pattern over the raw HTML).
_MARKUP: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "ecommerce",
        4.0,
        re.compile(
            r'"@type"\s*:\s*"(?:Product|ProductGroup|Offer|AggregateOffer)"|'
            r"itemtype\s*=\s*[\"']?https?://schema\.org/(?:Product|Offer)\b",
            re.I,
        ),
    ),
    (
        # Shop templates name their basket controls, whatever language the label is in.
        "ecommerce",
        2.5,
        re.compile(
            r"add[-_ ]?to[-_ ]?(cart|basket|bag|trolley)|addto(cart|basket|bag)|buy[-_]?now|"
            r"warenkorb|panier|carrito|carrinho|carrello|koszyk|ko[sš][ií]k|winkelwagen",
            re.I,
        ),
    ),
    # A buy button or link whose whole label is the command, in the shop's language.
    ("ecommerce", 2.5, BUY_CONTROL),
    (
        "blog_content",
        3.0,
        re.compile(
            r'"@type"\s*:\s*"(?:NewsArticle|Article|BlogPosting|ReportageNewsArticle|'
            r'OpinionNewsArticle|LiveBlogPosting)"|'
            r"itemtype\s*=\s*[\"']?https?://schema\.org/(?:NewsArticle|Article|BlogPosting)\b",
            re.I,
        ),
    ),
)
_OG_TYPES = {"product": "ecommerce", "og:product": "ecommerce", "article": "blog_content"}
_MIN_EVIDENCE = 2.0


def classify_site(site: Site) -> SiteType:
    scores = dict.fromkeys(_CUES, 0.0)
    for page in site.pages:
        if page.is_html:
            for kind, weight in page_cues(page):
                scores[kind] += weight
    best = max(scores, key=lambda k: scores[k])
    total = sum(scores.values())
    if scores[best] < _MIN_EVIDENCE or total == 0:
        return SiteType("other", 0.5)
    return SiteType(best, round(min(0.95, scores[best] / total), 2))


def page_cues(page: Page) -> list[tuple[str, float]]:
    """(kind, weight) for every cue one page shows."""
    raw = page.text
    doc = html.parse(raw, page.final_url)
    labels = " ".join(f.label for f in doc.fields)
    haystack = " ".join([doc.title, doc.text[:20000], labels[:5000], " ".join(doc.links[:300])])
    found = [
        (kind, weight)
        for kind, cues in _CUES.items()
        for weight, pattern in cues
        if pattern.search(haystack)
    ]
    found.extend((kind, weight) for kind, weight, pattern in _MARKUP if pattern.search(raw))
    og_type = doc.meta.get("og:type", "").lower().split(".", 1)[0]
    if og_type in _OG_TYPES:
        found.append((_OG_TYPES[og_type], 2.0))
    elif any(k.startswith(("product:price", "og:price")) for k in doc.meta):
        found.append(("ecommerce", 2.0))
    if any(carries(f).password for f in doc.forms):
        found.append(("login_financial", 1.5))
    if len(doc.text) > 6000:
        found.append(("blog_content", 1.0))
    return found
