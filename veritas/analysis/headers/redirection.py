"""Redirection from http to https, judged on the chain that starts at http://."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from veritas.analysis.headers.exchange import Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome
from veritas.analysis.headers.preload import is_preloaded

NAME = "redirection"
_PASSING = frozenset(
    (
        "redirection-to-https",
        "redirection-not-needed-no-http",
        "redirection-all-redirects-preloaded",
    )
)


def judge(exchange: Exchange) -> TestOutcome:
    route = exchange.route
    if route is None:
        return outcome(NAME, "redirection-not-needed-no-http", True)
    evidence = " -> ".join(route.urls)
    if not route.verified:
        return outcome(NAME, "redirection-invalid-cert", False, evidence)
    result = _result([urlsplit(u) for u in route.urls])
    return outcome(NAME, result, result in _PASSING, evidence)


def _result(urls: list[SplitResult]) -> str:
    # A preloaded host is never reached over http by a browser, whatever the server does.
    if all(is_preloaded(u.hostname or "") for u in urls):
        return "redirection-all-redirects-preloaded"
    if len(urls) == 1:
        return "redirection-missing"
    first, second, last = urls[0], urls[1], urls[-1]
    if last.scheme != "https":
        return "redirection-not-to-https"
    if second.scheme == "http":
        return "redirection-not-to-https-on-initial-redirection"
    if first.scheme == "http" and first.hostname != second.hostname:
        return "redirection-off-host-from-http"
    return "redirection-to-https"
