"""What kind of site this is (ecommerce, login/financial, blog/content, saas, other)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from veritas.analysis import html
from veritas.analysis.forms import carries
from veritas.analysis.result import SiteType
from veritas.page import Site

# Each cue is (weight, pattern over the visible text, titles and link addresses).
_CUES: Mapping[str, tuple[tuple[float, re.Pattern[str]], ...]] = {
    "ecommerce": (
        (3.0, re.compile(r"add to (cart|basket|bag)|checkout|shopping (cart|bag)", re.I)),
        (1.5, re.compile(r"[$£€]\s?\d+[.,]\d{2}|\bfree shipping|\bin stock\b", re.I)),
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
_MIN_EVIDENCE = 2.0


def classify_site(site: Site) -> SiteType:
    scores = dict.fromkeys(_CUES, 0.0)
    for page in site.pages:
        if not page.is_html:
            continue
        doc = html.parse(page.text, page.final_url)
        haystack = " ".join([doc.title, doc.text[:20000], " ".join(doc.links[:300])])
        for kind, cues in _CUES.items():
            scores[kind] += sum(w for w, pattern in cues if pattern.search(haystack))
        if any(carries(f).password for f in doc.forms):
            scores["login_financial"] += 1.5
        if doc.meta.get("og:type", "").lower() == "article" or len(doc.text) > 6000:
            scores["blog_content"] += 1.0
    best = max(scores, key=lambda k: scores[k])
    total = sum(scores.values())
    if scores[best] < _MIN_EVIDENCE or total == 0:
        return SiteType("other", 0.5)
    return SiteType(best, round(min(0.95, scores[best] / total), 2))
