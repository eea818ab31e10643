"""Response header grading exactly as the current Mozilla HTTP Observatory grades a host.

One module per header family (csp, cookies, hsts, redirection, referrer, sri, framing,
nosniff, isolation for CORP/COOP/COEP, cors), each turning an `Exchange` (what the scout
fetched, seen as the Observatory sees it) into one `TestOutcome` named with the
Observatory's result name. `table` holds every result's modifier; `scorecard` adds them up.
`docs/headers.md` lists every result and where it is produced.
"""

from __future__ import annotations

from veritas.analysis.headers.exchange import PREFLIGHT_ORIGIN, Exchange
from veritas.analysis.headers.outcome import TestOutcome
from veritas.analysis.headers.scorecard import Grade, grade, security_headers
from veritas.analysis.headers.table import SCORE_TABLE, letter

__all__ = [
    "PREFLIGHT_ORIGIN",
    "SCORE_TABLE",
    "Exchange",
    "Grade",
    "TestOutcome",
    "grade",
    "letter",
    "security_headers",
]
