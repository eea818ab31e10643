"""Subresource integrity of the entry page's scripts.

A script is the site's own when its URL is relative or on the same registrable domain as
the audited host. A protocol-relative URL (`//cdn.example/x.js`) follows the page's scheme:
it is loaded securely only when a visitor cannot reach the page over http, that is when
http://host/ is not served or its first redirect goes straight to https (and every later
hop stays on https). One on the site's own domain is the site's own, like a relative URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from veritas.analysis.domain import host_of, registrable_domain
from veritas.analysis.headers.exchange import HTML_TYPES, Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "subresource-integrity"
_PROTOCOL_RELATIVE = re.compile(r"^//[^/]")
_FULL_URL = re.compile(r"^https?://")
_ABSOLUTE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*:")
# From best to worst: a script's finding replaces the current one only if worse.
SERIOUSNESS = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
    "sri-not-implemented-response-not-html",
)
_PASSING = frozenset(
    (
        "sri-implemented-and-all-scripts-loaded-securely",
        "sri-implemented-and-external-scripts-loaded-securely",
        "sri-not-implemented-response-not-html",
        "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        "sri-not-implemented-but-no-scripts-loaded",
    )
)


@dataclass(frozen=True, slots=True)
class ScriptTag:
    src: str  # as a DOM without a base URL reports it: absolute URLs normalised, others raw
    integrity: bool


def script_tags(html: str) -> tuple[list[ScriptTag], int]:
    """The scripts with a src, and how many script elements there are in all."""
    nodes = LexborHTMLParser(html).css("script")
    tags = []
    for node in nodes:
        raw = node.attributes.get("src")
        src = _reflect(raw or "")
        if src:
            tags.append(ScriptTag(src, bool(node.attributes.get("integrity"))))
    return tags, len(nodes)


def _reflect(raw: str) -> str:
    if not _ABSOLUTE.match(raw):
        return raw
    text = raw.strip()
    scheme, rest = text.split(":", 1)
    return f"{scheme.lower()}:{rest}"


def judge(exchange: Exchange) -> TestOutcome:
    mime = exchange.mime
    if mime and mime not in HTML_TYPES:
        return outcome(NAME, "sri-not-implemented-response-not-html", True)
    tags, count = script_tags(exchange.body)
    if count == 0:
        return outcome(NAME, "sri-not-implemented-but-no-scripts-loaded", True)
    site = registrable_domain(exchange.host)
    worst: str | None = None
    foreign: list[str] = []
    for tag in tags:
        own, finding = _finding(tag, site, exchange.secure, https_enforced(exchange))
        if not own:
            foreign.append(tag.src)
            worst = _worse(finding, worst) if finding else worst
        elif finding and worst is None:
            worst = finding  # SRI on the site's own scripts still earns the bonus
    if worst is None:
        worst = (
            "sri-implemented-and-external-scripts-loaded-securely"
            if foreign
            else "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
        )
    return outcome(NAME, worst, worst in _PASSING, ", ".join(foreign[:3]))


def https_enforced(exchange: Exchange) -> bool:
    """Whether a visitor always ends up on https: no http at all, or http sent straight there."""
    route = exchange.route
    if route is None:
        return True
    return len(route.urls) > 1 and all(u.startswith("https:") for u in route.urls[1:])


def _finding(
    tag: ScriptTag, site: str, page_secure: bool, enforced: bool
) -> tuple[bool, str | None]:
    """Whether the script is the site's own, and what it makes of the result, if anything."""
    relative_protocol = bool(_PROTOCOL_RELATIVE.match(tag.src))
    full = bool(_FULL_URL.match(tag.src))
    relative = not relative_protocol and not full
    host = host_of("https:" + tag.src if relative_protocol else tag.src)
    same_site = relative or registrable_domain(host) == site
    secure_scheme = (
        (full and urlsplit(tag.src).scheme == "https")
        or (relative and page_secure)
        or (relative_protocol and enforced)
    )
    if same_site:
        own_with_sri = tag.integrity and secure_scheme
        return True, "sri-implemented-and-all-scripts-loaded-securely" if own_with_sri else None
    if tag.integrity:
        return False, None if secure_scheme else _INSECURE_WITH_SRI
    return False, _SECURE_WITHOUT_SRI if secure_scheme else _INSECURE_WITHOUT_SRI


_INSECURE_WITH_SRI = "sri-implemented-but-external-scripts-not-loaded-securely"
_SECURE_WITHOUT_SRI = "sri-not-implemented-but-external-scripts-loaded-securely"
_INSECURE_WITHOUT_SRI = "sri-not-implemented-and-external-scripts-not-loaded-securely"


def _worse(new: str, current: str | None) -> str:
    if current is None or SERIOUSNESS.index(new) > SERIOUSNESS.index(current):
        return new
    return current
