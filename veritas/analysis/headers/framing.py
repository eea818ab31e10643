"""Clickjacking protection: X-Frame-Options, or CSP frame-ancestors, which takes precedence."""

from __future__ import annotations

from veritas.analysis.headers.csp import Directives
from veritas.analysis.headers.exchange import Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "x-frame-options"


def judge(exchange: Exchange, csp: Directives | None) -> TestOutcome:
    value = exchange.header("x-frame-options")
    if csp is not None and "frame-ancestors" in csp:
        return outcome(NAME, "x-frame-options-implemented-via-csp", True, value or "")
    if not value:
        return outcome(NAME, "x-frame-options-not-implemented", False)
    lowered = value[:1024].strip().lower()
    if lowered in ("deny", "sameorigin"):
        return outcome(NAME, "x-frame-options-sameorigin-or-deny", True, value)
    if lowered.startswith("allow-from"):
        return outcome(NAME, "x-frame-options-allow-from-origin", True, value)
    return outcome(NAME, "x-frame-options-header-invalid", False, value)
