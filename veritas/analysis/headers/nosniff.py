"""X-Content-Type-Options: nosniff, exactly once."""

from __future__ import annotations

from veritas.analysis.headers.exchange import Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "x-content-type-options"


def judge(exchange: Exchange) -> TestOutcome:
    value = exchange.header("x-content-type-options")
    if not value:
        return outcome(NAME, "x-content-type-options-not-implemented", False)
    if value[:256].strip().lower() == "nosniff":
        return outcome(NAME, "x-content-type-options-nosniff", True)
    return outcome(NAME, "x-content-type-options-header-invalid", False, value)
