"""The security headers the server sends: those the project grades other sites on.

Every response gets the headers that cost an API client nothing (`nosniff`, no framing, no
referrer, HSTS, a CSP that allows nothing). The live page, its files and the report get a
policy of their own: scripts and styles from this origin only, never inline, and a
Cross-Origin-Opener/Resource-Policy that keeps them to this origin. Handlers that serve a
document with another policy (the report) set `Content-Security-Policy` themselves; a header
already set is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

# Browsers apply HSTS only over https; sent on http too so a TLS front end passes it through.
COMMON: Final[Mapping[str, str]] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCUMENT: Final[Mapping[str, str]] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DOCUMENT_PATHS: Final = ("/static/",)
DOCUMENT_EXACT: Final = frozenset({"/"})


def is_document(path: str) -> bool:
    """The live page, its files and reports: what a browser renders rather than a program reads."""
    return path in DOCUMENT_EXACT or path.startswith(DOCUMENT_PATHS) or path.endswith("/report")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: fill in what the handler did not set."""
    headers = response.headers
    for name, value in COMMON.items():
        headers.setdefault(name, value)
    if is_document(request.path):
        for name, value in DOCUMENT.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
    else:
        headers.setdefault("Content-Security-Policy", API_CSP)
