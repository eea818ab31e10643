"""A sink in front of the server's event log that notes when each event became visible."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from bench.stream import STAMP
from protocol.events import SERVER_TYPES, Event, types_of
from server.streaming.log import AuditLog


@dataclass(slots=True)
class _Run:
    """What the recorder keeps of appended events until they are visible: not the events,
    which would then outlive the server's own use of them and burden the collector."""

    first: int  # position of the first event
    length: int
    made_ns: int | None  # the first worker event's `ts`, in ns
    servers: list[int]  # offsets of server events (not counted)
    stamps: list[int | None] | None  # each worker event's STAMP, when the stream has them

    def split(self, cut: int) -> tuple[_Run, _Run]:
        """The first `cut` events, and the rest."""
        workers = cut - sum(1 for offset in self.servers if offset < cut)
        stamps = self.stamps
        head = _Run(self.first, cut, self.made_ns, [o for o in self.servers if o < cut], None)
        tail = _Run(self.first + cut, self.length - cut, None, [], None)
        tail.servers = [o - cut for o in self.servers if o >= cut]
        if stamps is not None:
            head.stamps, tail.stamps = stamps[:workers], stamps[workers:]
        return head, tail


class Recorder:
    """Passes every event on to `log` and notes, for each, when subscribers could first read
    it (at once without a store; after the store's commit with durable visibility)."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        # Appended but not yet visible, in order. Noted a run at a time, so the recorder's
        # own cost per event stays small next to the server's work it measures.
        self._waiting: deque[_Run] = deque()
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
        positions = self._log.extend(events)
        first, last = (positions[0], positions[-1]) if positions else (None, None)
        if first is not None and last == first + len(events) - 1 and None not in positions:
            self._waiting.append(self._run(first, events))  # the common case: all kept
        else:
            kept = [(p, e) for p, e in zip(positions, events, strict=True) if p is not None]
            self._waiting.extend(self._run(p, [e]) for p, e in kept)
        self.visible()

    def _run(self, first: int, events: list[Event]) -> _Run:
        types = types_of(events)
        servers = (
            []
            if SERVER_TYPES.isdisjoint(types)
            else [i for i, type_ in enumerate(types) if type_ in SERVER_TYPES]
        )
        workers = [e for e in events if not e.from_server] if servers else events
        made_ns = int(workers[0].ts * 1e9) if workers else None
        stamps = None
        if workers and STAMP in workers[0].fields:
            stamps = [e.fields.get(STAMP) for e in workers]
        if workers and workers[-1].type == "audit_result":
            self.result = dict(workers[-1]["result"])  # counted once visible: see `_note`
        return _Run(first, len(events), made_ns, servers, stamps)

    def visible(self) -> None:
        """Note every event that has become visible since the last call."""
        now = time.monotonic_ns()
        # Without a store the log shows a batch inside `extend`, before its positions are
        # known here: those are noted when `extend` returns.
        shown = len(self._log)
        while self._waiting and self._waiting[0].first <= shown:
            run = self._waiting.popleft()
            if run.first + run.length - 1 > shown:  # partly visible: the rest waits
                run, rest = run.split(shown - run.first + 1)
                self._waiting.appendleft(rest)
            self._note(run, now)

    def _note(self, run: _Run, now: int) -> None:
        workers = run.length - len(run.servers)
        if workers == 0:
            return
        if self.first_ns is None and run.made_ns is not None:
            self.first_ns = now
            self.first_made_ns = now - max(time.time_ns() - run.made_ns, 0)
        self.last_ns = now
        self.count += workers
        if run.stamps is not None:
            self.latencies_ns += [now - stamp for stamp in run.stamps if stamp is not None]


class RecordedLog(AuditLog):
    """An `AuditLog` that tells its recorder at each commit, as it wakes its subscribers."""

    recorder: Recorder | None = None

    def committed(self, position: int) -> None:
        super().committed(position)
        if self.recorder is not None:
            self.recorder.visible()
