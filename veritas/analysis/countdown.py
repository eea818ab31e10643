"""Countdown timers driven by script: a visible element whose text a decrementing timer rewrites.

Scripts are full of timers (ad refresh, analytics beacons, carousels, session keep-alives)
and of timestamps; none of those is a countdown. An inline script is read as one only when
all of these hold in the same script:

- it ticks (setInterval, setTimeout or requestAnimationFrame);
- it computes something that goes down: a deadline minus now, or a counter decremented;
- it writes text into an element the page shows (by id or class, found visible in the DOM);
- it is not an ad or analytics script.

A deadline kept per visitor (local storage, a cookie) or drawn at random is fake by
construction: the offer restarts for every visitor. That rule names the mechanism and may
raise `medium`; any other countdown is `low`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from veritas.analysis import html
from veritas.finding import Finding

_TICK = re.compile(r"\bset(Interval|Timeout)\s*\(|\brequestAnimationFrame\s*\(")
_NOW = r"(Date\.now\(\)|new Date\(\)(\.getTime\(\)|\.valueOf\(\))?|\bnow\b|\+new Date)"
_DECREMENT = re.compile(
    rf"\w[\w.\]\)]*\s*-\s*{_NOW}|--\s*[A-Za-z_$][\w$.]*|[A-Za-z_$][\w$\]]*\s*--|"
    r"[A-Za-z_$][\w$.]*\s*-=\s*1\b"
)
_SELECTOR = re.compile(
    r"getElementById\(\s*['\"]([\w-]+)['\"]\s*\)|getElementsByClassName\(\s*['\"]([\w-]+)"
    r"['\"]\s*\)|querySelector(?:All)?\(\s*['\"]([#.][\w-]+)['\"]\s*\)|\$\(\s*['\"]([#.][\w-]+)"
    r"['\"]\s*\)"
)
_WRITE = re.compile(r"\.(textContent|innerText|innerHTML|nodeValue)\s*=|\.(text|html)\s*\(\s*[^)]")
_ADS = re.compile(
    r"googletag|adsbygoogle|doubleclick|\bgtag\(|google-analytics|googletagmanager|"
    r"\bdataLayer\b|\bfbq\(|\b_paq\b|adRefresh|refreshAds|\bprebid|\bpbjs\b|"
    r"performance\.(now|timing|mark)|\bbeacon\b|sendBeacon|\banalytics\b|\btracking\b",
    re.IGNORECASE,
)
_PER_VISITOR = re.compile(
    r"localStorage|sessionStorage|document\.cookie|Math\.random", re.IGNORECASE
)
_MAX_SCRIPT = 200_000  # bytes of one inline script read; bundles beyond it are not countdowns


def countdowns(doc: html.Document) -> Iterator[Finding]:
    for number, script in enumerate(doc.scripts, 1):
        code = script.code[:_MAX_SCRIPT]
        if not code or not _TICK.search(code) or _ADS.search(code):
            continue
        decrement = _DECREMENT.search(code)
        target = _visible_target(code, doc)
        if decrement is None or target is None:
            continue
        selector, where = target
        fake = bool(_PER_VISITOR.search(code))
        start = max(0, decrement.start() - 60)
        evidence = " ".join(code[start : decrement.end() + 60].split())
        yield Finding(
            "dark_pattern",
            "countdown_timer",
            "medium" if fake else "low",
            0.85 if fake else 0.6,
            f"Urgency: inline script {number} counts down into the visible element {selector} "
            f"at {where}{'; its deadline restarts per visitor' if fake else ''}.",
            "The page puts a clock on your decision to stop you comparing or thinking.",
            evidence,
            doc.url,
        )


def _visible_target(code: str, doc: html.Document) -> tuple[str, str] | None:
    """The first element the script writes text into that the page shows."""
    writes = bool(_WRITE.search(code))
    if not writes:
        return None
    for match in _SELECTOR.finditer(code):
        by_id, by_class, query, jquery = match.groups()
        name = f"#{by_id}" if by_id else f".{by_class}" if by_class else query or jquery
        if name and name in doc.visible:
            return name, doc.visible[name]
    return None
