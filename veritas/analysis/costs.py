"""Hidden costs: fees that surface only at checkout, and subscriptions hidden in a purchase.

Two mechanisms of the Sneaking category (Mathur et al. 2019), each named by a rule:

- a hidden fee: a checkout or basket page lists a fee or charge row (service, handling,
  booking, processing ...) that no product page the scout fetched mentioned. Shipping,
  delivery and tax are the ordinary costs of buying and never count;
- a hidden subscription: the purchase starts a recurring charge by default ("membership
  starts automatically after 7 days", "free for 30 days, then $19.99/month").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from veritas.analysis import html
from veritas.finding import Finding
from veritas.page import Page, Site

_MONEY = (
    r"([$£€¥₹]\s?\d[\d,]*([.,]\d{2})?|\d[\d,]*([.,]\d{2})?\s?([$£€¥₹]|usd|eur|gbp|chf|kr)(?!\w))"
)
_FEE = re.compile(
    r"\b((service|handling|processing|booking|convenience|admin(istration|istrative)?|platform|"
    r"care|small[- ]order|packaging|facility|resort|cleaning|transaction|payment|card|checkout|"
    r"order|protection|insurance|environmental|regulatory|venue|ticketing)\s*(&\s*\w+\s*)?"
    r"(fee|charge|surcharge)s?|surcharge|fee)\b",
    re.IGNORECASE,
)
_ORDINARY = re.compile(r"\b(shipping|delivery|postage|freight|tax|vat|gst|duty|duties)\b", re.I)
_AMOUNT = re.compile(_MONEY, re.IGNORECASE)
_SUMMARY = re.compile(r"\b(order summary|order total|subtotal|sub-total)\b", re.IGNORECASE)
_COMPLETE = re.compile(
    r"\b(place (your )?order|complete (your )?(order|purchase)|pay now|confirm (and|&) pay|"
    r"payment details|proceed to payment)\b",
    re.IGNORECASE,
)
_TOTAL = re.compile(r"\b(total|amount due|to pay)\b", re.IGNORECASE)
_ROWS = "tr, li, dl, p, div, span, dd, dt, label"
_MAX_ROW = 140  # characters: a fee row is a label and an amount, not a paragraph
_RECURRING = re.compile(
    rf"{_MONEY}\s*(/|per|a|each|every)\s*(month|mo|year|yr|week|wk|annum)\b|"
    r"\b(monthly|annual|yearly|weekly) (fee|charge|payment|subscription|membership)\b",
    re.IGNORECASE,
)
_BY_DEFAULT = re.compile(
    r"\b(automatically|auto[- ]?renew\w*|unless (you )?cancel\w*|until (you )?cancel\w*|"
    r"then\b|after (your |the )?(free )?(trial|\d+[- ]days?|first)|starts? (automatically|after)|"
    r"(at|after) the end of (the |your )?(free |introductory |trial |promotional )?(trial|period|"
    r"introductory period|promotional period))",
    re.IGNORECASE,
)
_AUTOSTART = re.compile(
    r"\b(membership|subscription|plan|programme|program|club)\b.{0,80}\b(starts?|begins?|"
    r"renews?|converts?|continues?|activates?)\b.{0,20}\bautomatically\b|"
    # Said to the buyer: "you will automatically be charged", not "the plan was renewed".
    r"\b(you|your (card|account))\b[^.]{0,40}\bautomatically\b.{0,40}\b(enrol+ed|renew|charged|"
    r"billed|start)|"
    r"\b(subscription|membership)s?\b.{0,40}\bauto(matically)?[- ]?renew|"
    r"\bauto(matic)?[- ]?renew(al|s)?\b.{0,20}\b(and )?(billing|fees?|charges?)\b|"
    # A trial or membership that comes with the purchase, whether or not it was asked for.
    r"\b(trial|membership|subscription)\b.{0,40}\bwith (this|your|every|each) (order|purchase)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FeeRow:
    name: str  # the fee's name, lower case ("service fee")
    text: str  # the whole visible row
    where: str


def is_checkout(doc: html.Document) -> bool:
    """A basket, checkout or order summary: totals and a way to complete the order."""
    text = doc.text
    path = doc.url.lower()
    named = any(k in path for k in ("checkout", "basket", "cart", "/order", "payment"))
    summary = bool(_SUMMARY.search(text) and _COMPLETE.search(text))
    return (named or summary) and bool(_TOTAL.search(text))


def fee_rows(page_html: str) -> list[FeeRow]:
    """Short visible rows that name a fee or charge and give its amount, innermost first."""
    tree = LexborHTMLParser(page_html)
    rows: dict[str, FeeRow] = {}
    for node in tree.css(_ROWS):
        text = html.visible_text(node)
        if len(text) > _MAX_ROW or not _AMOUNT.search(text) or _ORDINARY.search(text):
            continue
        fee = _FEE.search(text)
        if fee is None or _is_hidden_somewhere(node):
            continue
        name = " ".join(fee.group(0).lower().split())
        if name not in rows or len(text) < len(rows[name].text):
            rows[name] = FeeRow(name, text, html.locator(node))
    return list(rows.values())


def _is_hidden_somewhere(node: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html"):
        if current.tag in ("script", "template", "noscript") or html.hidden(current):
            return True
        current = current.parent
    return False


def hidden_fees(site: Site) -> list[Finding]:
    """Fee rows of the checkout pages that no other fetched page of the site mentions."""
    docs = [(p, html.parse(p.text, p.final_url)) for p in site.pages if p.is_html]
    checkouts = [(p, d) for p, d in docs if is_checkout(d)]
    others = [d for _, d in docs if not is_checkout(d)]
    if not checkouts or not others:
        return []  # nothing to compare with: the fee may well have been shown before
    shown = " ".join(d.text.lower() for d in others)
    findings = []
    for page, _ in checkouts:
        for row in fee_rows(page.text):
            if _mentioned(row.name, shown):
                continue
            findings.append(_fee_finding(row, page, len(others)))
    return findings


def _mentioned(name: str, text: str) -> bool:
    words = [w for w in re.findall(r"[a-z]+", name) if w not in ("fee", "fees", "charge")]
    key = " ".join(words) if words else name
    return re.search(rf"\b{re.escape(key)}\b.{{0,20}}\b(fee|charge|surcharge)", text) is not None


def _fee_finding(row: FeeRow, page: Page, compared: int) -> Finding:
    return Finding(
        "dark_pattern",
        "hidden_costs",
        "medium",
        0.8,
        f"Sneaking (hidden costs): the checkout at {row.where} adds a {row.name} that none of "
        f"the {compared} other page(s) fetched mentioned: \u201c{row.text}\u201d",
        "A fee appears only at checkout, after you decided to buy at the advertised price.",
        row.text,
        page.final_url,
    )


def subscriptions(doc: html.Document) -> Iterator[Finding]:
    """Visible text that turns a purchase or trial into a recurring charge by default."""
    seen: set[str] = set()
    for segment in doc.segments:
        text = segment.text
        recurring = _RECURRING.search(text) and _BY_DEFAULT.search(text)
        if not (recurring or _AUTOSTART.search(text)) or text in seen:
            continue
        seen.add(text)
        yield Finding(
            "dark_pattern",
            "hidden_subscription",
            "medium",
            0.8,
            f"Sneaking (hidden subscription) at {segment.where}: the purchase starts a "
            f"recurring charge unless cancelled: \u201c{text[:200]}\u201d",
            "Buying here signs you up for a charge that repeats until you cancel.",
            text[:300],
            doc.url,
        )
