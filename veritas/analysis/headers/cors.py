"""CORS, read from a preflight that sent an Origin the site cannot know.

Reflecting that Origin in Access-Control-Allow-Origin while allowing credentials lets any
site read this one with the visitor's cookies.
"""

from __future__ import annotations

from veritas.analysis.headers.exchange import Exchange, field
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "cross-origin-resource-sharing"


def judge(exchange: Exchange) -> TestOutcome:
    headers, origin = exchange.cors.headers, exchange.cors.origin
    allowed = field(headers, "access-control-allow-origin")
    if not allowed:
        return outcome(NAME, "cross-origin-resource-sharing-not-implemented", True)
    credentials = (field(headers, "access-control-allow-credentials") or "").strip().lower()
    evidence = f"Access-Control-Allow-Origin: {allowed}"
    if allowed[:256].strip().lower() == "*":
        return outcome(NAME, "cross-origin-resource-sharing-implemented-with-public-access", True)
    if origin is not None and allowed == origin and credentials == "true":
        return outcome(
            NAME,
            "cross-origin-resource-sharing-implemented-with-universal-access",
            False,
            f"{evidence} (reflected) with Access-Control-Allow-Credentials: true",
        )
    return outcome(
        NAME, "cross-origin-resource-sharing-implemented-with-restricted-access", True, evidence
    )
