"""Fake timers: a countdown read twice (it must move), then again by a fresh visitor.

A genuine deadline seen by a new visitor has gone on counting: its value is the first
reading minus the time since. An evergreen timer starts over for every visitor (from a
fixed value, a cookie-less start or a random one), so the fresh reading is higher than
the deadline allows. That is the finding, with the readings as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from veritas.finding import Finding

_CLOCK: Final = re.compile(r"\b(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\b")
_UNITS: Final = re.compile(r"\b(\d+)\s*h\w*\s*(\d+)\s*m\w*(?:\s*(\d+)\s*s)?", re.IGNORECASE)
# A fresh reading may exceed the deadline by this much (whole seconds shown, the moment
# each reading is taken after its load) and be genuine; a restart exceeds it by the time
# between the two visits, a few seconds at least.
TOLERANCE: Final = 1.5


@dataclass(frozen=True, slots=True)
class Reading:
    path: str  # the element, as a CSS path
    text: str  # what it showed
    at: float  # monotonic seconds when it was read


def seconds_left(text: str) -> int | None:
    """The time a countdown shows, in seconds: `01:02:03`, `12:34` (m:s), `1h 2m 3s`."""
    match = _CLOCK.search(text) or _UNITS.search(text)
    if match is None:
        return None
    numbers = [int(n) for n in match.groups() if n is not None]
    if match.re is _CLOCK and len(numbers) == 2:
        numbers = [0, *numbers]  # mm:ss
    hours, minutes, seconds = [*numbers, 0, 0, 0][:3]
    return hours * 3600 + minutes * 60 + seconds


def moving(first: list[Reading], second: list[Reading]) -> list[tuple[Reading, Reading]]:
    """Pairs (first, second reading) of the same element whose value went down."""
    later = {r.path: r for r in second}
    pairs = []
    for reading in first:
        again = later.get(reading.path)
        a, b = seconds_left(reading.text), None if again is None else seconds_left(again.text)
        if again is not None and a is not None and b is not None and b < a:
            pairs.append((reading, again))
    return pairs


def restarted(first: Reading, fresh: Reading) -> bool:
    """True when a new visitor's reading is later than the deadline the first reading set."""
    a, c = seconds_left(first.text), seconds_left(fresh.text)
    if a is None or c is None:
        return False
    elapsed = fresh.at - first.at
    return c > a - elapsed + max(TOLERANCE, 0.05 * elapsed)


def evergreen_finding(pair: tuple[Reading, Reading], fresh: Reading, url: str) -> Finding:
    first, second = pair
    evidence = (
        f"countdown read {first.text!r}, then {second.text!r} {second.at - first.at:.1f} s"
        f" later; a new visitor {fresh.at - first.at:.1f} s after the first reading saw"
        f" {fresh.text!r}"
    )
    return Finding(
        category="dark_pattern",
        pattern_type="countdown_timer",
        severity="medium",
        confidence=0.9,
        description="Urgency: an evergreen countdown timer that starts over for every visitor"
        f" (element {first.path}).",
        plain_english="The countdown is fake: it starts again for each new visitor, so the"
        " offer is not about to end.",
        evidence=evidence,
        url=url,
    )


def fresh_match(pair: tuple[Reading, Reading], fresh: list[Reading]) -> Reading | None:
    """The fresh visitor's reading of the same element (by path, else the first timer)."""
    by_path = {r.path: r for r in fresh}
    return by_path.get(pair[0].path) or (fresh[0] if fresh else None)
