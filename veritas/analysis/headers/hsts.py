"""Strict-Transport-Security, read from the https response."""

from __future__ import annotations

import math
import re

from veritas.analysis.headers.exchange import Exchange, field
from veritas.analysis.headers.outcome import TestOutcome, outcome
from veritas.analysis.headers.preload import is_preloaded

NAME = "strict-transport-security"
# Six months would be 15768000 s; 15552000 (180 days) is what many sites send and is accepted.
SIX_MONTHS = 15_552_000
_PASSING = frozenset(("hsts-implemented-max-age-at-least-six-months", "hsts-preloaded"))


def js_parse_int(text: str) -> float:
    """JavaScript's parseInt(text, 10): leading digits after optional space and sign, or NaN."""
    found = re.match(r"\s*([+-]?\d+)", text)
    return float(int(found.group(1))) if found else math.nan


def max_age(value: str) -> float | None:
    """The max-age directive (NaN when it is not a number); None when absent.

    Raises ValueError for a repeated header, which arrives comma-joined.
    """
    if "," in value:
        raise ValueError("Strict-Transport-Security sent more than once")
    found: float | None = None
    for directive in (d.strip().lower() for d in value.split(";")):
        if directive.startswith("max-age="):
            found = js_parse_int(directive[8:128])
    return found


def judge(exchange: Exchange) -> TestOutcome:
    result, value = _result(exchange)
    if exchange.https_headers is not None and is_preloaded(exchange.host):
        result = "hsts-preloaded"  # the list protects the host whatever the header says
    return outcome(NAME, result, result in _PASSING, value or "")


def _result(exchange: Exchange) -> tuple[str, str | None]:
    if exchange.https_headers is None:
        return "hsts-not-implemented-no-https", None
    if not exchange.https_verified:
        return "hsts-invalid-cert", None
    value = field(exchange.https_headers, "strict-transport-security")
    if value is None:
        return "hsts-not-implemented", None
    try:
        age = max_age(value[:1024])
    except ValueError:
        return "hsts-header-invalid", value
    if age is None:
        return "hsts-header-invalid", value
    # NaN compares false, so a non-numeric max-age passes, as it does in the Observatory.
    if age < SIX_MONTHS:
        return "hsts-implemented-max-age-less-than-six-months", value
    return "hsts-implemented-max-age-at-least-six-months", value
