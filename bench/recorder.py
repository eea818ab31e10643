"""A sink in front of the server's event log that notes when each event arrived."""

from __future__ import annotations

import time
from typing import Any, Protocol

from bench.stream import STAMP
from protocol.events import Event


class Log(Protocol):
    def extend(self, events: list[Event]) -> Any: ...


class Recorder:
    """Passes every event on to `log` and keeps arrival times, latencies and the result."""

    def __init__(self, log: Log | None) -> None:
        self._log = log
        self.count = 0
        self.first_ns: int | None = None  # arrival of the first event
        self.last_ns = 0  # arrival of the latest event
        self.latencies_ns: list[int] = []
        self.result: dict[str, Any] | None = None

    def append(self, event: Event) -> None:
        self.extend([event])

    def extend(self, events: list[Event]) -> None:
        if self._log is not None:
            self._log.extend(events)
        now = time.monotonic_ns()  # after the log: the events are in it, encoded for SSE
        for event in events:
            self._note(event, now)

    def _note(self, event: Event, now: int) -> None:
        if event.from_server:
            return
        if self.first_ns is None:
            self.first_ns = now
        self.last_ns = now
        self.count += 1
        stamp = event.get(STAMP)
        if stamp is not None:
            self.latencies_ns.append(now - stamp)
        if event.type == "audit_result":
            self.result = dict(event["result"])
