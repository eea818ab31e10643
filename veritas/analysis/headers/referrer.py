"""Referrer-Policy from the header and `<meta name=referrer>`; the last value a browser
understands wins, and the meta tag comes after the header, so it overrides it."""

from __future__ import annotations

from veritas.analysis.headers.exchange import REFERRER, Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "referrer-policy"
PRIVATE = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")
UNSAFE = ("origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade")


def judge(exchange: Exchange) -> TestOutcome:
    header = exchange.header(REFERRER)
    values = ([header] if header is not None else []) + exchange.equiv.get(REFERRER, [])
    if not values:
        return outcome(NAME, "referrer-policy-not-implemented", True)
    data = ", ".join(values)
    known = [p.strip().lower() for p in data.split(",") if p.strip().lower() in PRIVATE + UNSAFE]
    policy = known[-1] if known else ""
    if policy in PRIVATE:
        return outcome(NAME, "referrer-policy-private", True, data)
    if policy in UNSAFE:
        return outcome(NAME, "referrer-policy-unsafe", False, data)
    return outcome(NAME, "referrer-policy-header-invalid", False, data)
