"""A sink in front of the server's event log that notes when each event became visible."""

from __future__ import annotations

import time
from typing import Any

from bench.stream import STAMP
from protocol.events import Event
from server.streaming.log import AuditLog


class Recorder:
    """Passes every event on to `log` and notes, for each, when subscribers could first read
    it (at once without a store; after the store's commit with durable visibility)."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._waiting: dict[int, Event] = {}  # position -> event, appended but not yet visible
        self._seen = 0  # visible positions already noted
        self.count = 0
        self.first_ns: int | None = None  # the first event visible
        # When the first event was made, on this process's monotonic clock (from its `ts`):
        # throughput counts from there, so a first commit that comes late (the events read
        # meanwhile then show at once) cannot shorten the measured time.
        self.first_made_ns: int | None = None
        self.last_ns = 0  # the latest event visible
        self.latencies_ns: list[int] = []
        self.result: dict[str, Any] | None = None

    def append(self, event: Event) -> None:
        self.extend([event])

    def extend(self, events: list[Event]) -> None:
        for event, position in zip(events, self._log.extend(events), strict=True):
            if position is not None:
                self._waiting[position] = event
        self.visible()

    def visible(self) -> None:
        """Note every event that has become visible since the last call."""
        now = time.monotonic_ns()
        # Without a store the log shows a batch inside `extend`, before its positions are
        # known here: those are noted when `extend` returns.
        while self._seen < len(self._log) and self._seen + 1 in self._waiting:
            self._seen += 1
            self._note(self._waiting.pop(self._seen), now)

    def _note(self, event: Event, now: int) -> None:
        if event.from_server:
            return
        if self.first_ns is None:
            self.first_ns = now
            age_ns = max(time.time_ns() - int(event.ts * 1e9), 0)
            self.first_made_ns = now - age_ns
        self.last_ns = now
        self.count += 1
        stamp = event.get(STAMP)
        if stamp is not None:
            self.latencies_ns.append(now - stamp)
        if event.type == "audit_result":
            self.result = dict(event["result"])


class RecordedLog(AuditLog):
    """An `AuditLog` that tells its recorder at each commit, as it wakes its subscribers."""

    recorder: Recorder | None = None

    def committed(self, position: int) -> None:
        super().committed(position)
        if self.recorder is not None:
            self.recorder.visible()
