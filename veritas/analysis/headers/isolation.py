"""Cross-origin isolation headers: CORP, COOP and COEP.

CORP is compared as a lower-cased string. COOP and COEP are structured-field tokens: the
value must be one token, optionally with parameters such as report-to, and is compared as
sent (so "Same-Origin" or a quoted "same-origin" is invalid). A header sent twice arrives
comma-joined and is invalid for all three.
"""

from __future__ import annotations

from veritas.analysis.headers.exchange import Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome
from veritas.analysis.headers.structured import token

CORP = "cross-origin-resource-policy"
COOP = "cross-origin-opener-policy"
COEP = "cross-origin-embedder-policy"
COOP_VALUES = ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
COEP_VALUES = ("require-corp", "credentialless", "unsafe-none")


def judge_corp(exchange: Exchange) -> TestOutcome:
    value = exchange.header(CORP)
    if not value:
        return outcome(CORP, "corp-not-implemented", True)
    lowered = value[:256].strip().lower()
    if lowered in ("same-origin", "same-site", "cross-origin"):
        return outcome(CORP, f"corp-implemented-with-{lowered}", True)
    return outcome(CORP, "corp-header-invalid", False, value)


def judge_coop(exchange: Exchange) -> TestOutcome:
    return _token_test(exchange, COOP, "coop", COOP_VALUES)


def judge_coep(exchange: Exchange) -> TestOutcome:
    return _token_test(exchange, COEP, "coep", COEP_VALUES)


def _token_test(exchange: Exchange, header: str, short: str, known: tuple[str, ...]) -> TestOutcome:
    value = exchange.header(header)
    if not value:
        return outcome(header, f"{short}-not-implemented", True)
    policy = token(value[:1024].strip())
    if policy in known:
        return outcome(header, f"{short}-implemented-with-{policy}", True)
    return outcome(header, f"{short}-header-invalid", False, value)
