"""The synthetic audit stream: realistic progress events, each stamped with `mono_ns`.

Every template is validated once with `protocol.new_event`; per event only `seq`, `ts`
and the extra key `mono_ns` (the child's `time.monotonic_ns()` at emission, shared
across processes on Linux) change, so the emitter's own cost per event stays small and
the benchmark measures the channel and the reader, not event construction.

Flood runs leave the stamp out (`stamp=False`): an extra key takes the receiver's
validation off its fast path for flat events, so only unstamped events are exactly what
the worker sends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any, Final

from protocol.events import Event, new_event, to_wire

STAMP: Final = "mono_ns"
SCREENSHOT_BYTES: Final = 200 * 1024

_FINDING = {
    "id": "dp7",
    "category": "dark",
    "pattern_type": "scarcity",
    "severity": "medium",
    "confidence": 0.82,
    "description": "Scarcity",
    "plain_english": "Rushes you.",
    "evidence": "2 left!",
    "url": "/p/1",
}

_TEMPLATES: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    (
        "phase_start",
        {
            "phase": "scout",
            "label": "Scout",
            "message": "Fetching page 3 of 8: https://shop.example/products/42",
            "pct": 22.5,
        },
    ),
    (
        "log_entry",
        {
            "agent": "scout",
            "level": "info",
            "message": "GET https://shop.example/products/42 -> 200 (18,204 bytes, 143 ms)",
        },
    ),
    (
        "stats_update",
        {
            "stats": {
                "pages": 3,
                "findings": 5,
                "requests": 14,
                "bytes": 73112,
                "errors": 0,
                "redirects": 2,
                "scripts": 11,
            }
        },
    ),
    ("finding", {"finding": _FINDING}),
)


def _template_maps() -> list[dict[str, Any]]:
    return [to_wire(new_event(type_, 1, **fields)) for type_, fields in _TEMPLATES]


class EventStream:
    """Wire maps for seq 2, 3 ...; `hello` is seq 1 and `audit_result` comes last."""

    def __init__(self, screenshots: bool = False, stamp: bool = True) -> None:
        self._maps = _template_maps()
        self._screenshot = to_wire(
            new_event(
                "screenshot",
                1,
                index=0,
                label="entry",
                url="https://shop.example/",
                mime="image/png",
                data=os.urandom(SCREENSHOT_BYTES),
            )
        )
        self.screenshots = screenshots
        self.stamp = stamp

    def event(self, seq: int) -> dict[str, Any]:
        template = self._screenshot if self.screenshots else self._maps[seq % len(self._maps)]
        wire = dict(template)
        wire["seq"] = seq
        wire["ts"] = time.time()
        if self.stamp:
            wire[STAMP] = time.monotonic_ns()
        return wire

    def events(self, first: int, count: int) -> Iterator[dict[str, Any]]:
        for seq in range(first, first + count):
            yield self.event(seq)


def hello(ipc: str, url: str, tier: str) -> dict[str, Any]:
    return to_wire(new_event("hello", 1, pid=os.getpid(), ipc=ipc, tier=tier, url=url))


def result(seq: int, extra: dict[str, Any]) -> dict[str, Any]:
    """The closing `audit_result`; `extra` carries the emitter's own measurements."""
    body = {"trust_score": 50, "risk_level": "uncertain", "findings": [], **extra}
    return to_wire(new_event("audit_result", seq, result=body))


def as_event(wire: dict[str, Any]) -> Event:
    """An `Event` around a map built from validated templates (no second validation)."""
    fields = {k: v for k, v in wire.items() if k not in ("v", "type", "seq", "ts")}
    return Event(wire["type"], wire["seq"], wire["ts"], fields)
