"""Where audits and their events are kept: the `Store` interface and its records.

The event log (server/streaming/log.py) holds what live subscribers read; a `Store` sits under it
and keeps the same entries for history and for restarts. An event is stored as the exact
JSON text sent in its SSE `data:` line, with its position and type, so a stored audit
replays byte-identically: `protocol.sse.encode_message(data, event=type, id=position)`.

Events are queued with `append_events` (never waits on I/O: the log calls it once per
batch of events, on the event loop) and become durable in a later commit; the store then
tells the batch's `CommitListener` (the log), which is when subscribers first see them.
`flush` returns once everything appended before it is durable. A store whose writer has
failed stops: `failure` says why, and every later write raises `StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, Literal, Protocol, overload

AuditStatus = Literal["queued", "running", "complete", "error"]
FINISHED: frozenset[str] = frozenset({"complete", "error"})


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    url: str
    tier: str
    verdict_mode: str
    security_modules: tuple[str, ...] | None
    ipc: str
    status: AuditStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    trust_score: int | None = None
    risk_level: str | None = None
    error_code: str | None = None
    error: str | None = None
    result: Mapping[str, Any] | None = None  # the audit_result's `result` map, once finished


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int  # 1, 2, 3 ... in the audit's log: the SSE id
    type: str
    data: str  # the JSON text of the SSE data line, exactly


class EventRun(Sequence[StoredEvent]):
    """Events at consecutive positions from `first`, kept as two lists: how a log hands a
    read's worth of events to its store without an object per event. A `Sequence` of
    `StoredEvent`s to any store that does not look inside; one that does (SQLite) keeps
    the lists as they are."""

    __slots__ = ("ascii", "datas", "first", "types")

    def __init__(self, first: int, types: list[str], datas: list[str], *, ascii: bool) -> None:
        if len(types) != len(datas):
            raise ValueError("an event run needs one type per data text")
        self.first = first
        self.types = types
        self.datas = datas
        self.ascii = ascii  # every data text is ASCII: nothing a store could not encode

    def __len__(self) -> int:
        return len(self.datas)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[StoredEvent]: ...
    def __getitem__(self, index: int | slice) -> StoredEvent | Sequence[StoredEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(self.first, self.first + len(self))[index]
        return StoredEvent(position, self.types[index], self.datas[index])

    def __iter__(self) -> Iterator[StoredEvent]:
        return map(StoredEvent, count(self.first), self.types, self.datas)

    @property
    def last(self) -> int:
        return self.first + len(self) - 1


class CommitListener(Protocol):
    def committed(self, position: int) -> None:
        """Every event appended with this listener up to `position` is durable."""

    def failed(self, reason: str) -> None:
        """The store stopped before the events appended with this listener were durable."""


class Store(Protocol):
    @property
    def failure(self) -> str | None:
        """None while the store works; why it stopped once its writer has failed."""

    async def open(self) -> None: ...
    async def close(self) -> None:
        """Flush what is pending, then release the store."""

    async def create_audit(self, record: AuditRecord) -> None: ...
    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        """Set fields of AuditRecord (status, started_at, finished_at, result, error_code ...)."""

    def append_events(
        self,
        audit_id: str,
        events: Sequence[StoredEvent],
        listener: CommitListener | None = None,
    ) -> bool:
        """Queue events for one commit; never blocks. Positions arrive in order per audit.

        False when the backlog is full (nothing queued; terminal events are always taken);
        `StoreUnavailable` once the store has failed.
        """

    def append_event(self, audit_id: str, event: StoredEvent) -> None:
        """One event, no listener; `StoreUnavailable` once the store has failed."""

    async def flush(self) -> None:
        """Return once every event appended before the call is durable."""

    async def get_audit(self, audit_id: str) -> AuditRecord | None: ...
    async def list_audits(
        self, *, status: AuditStatus | None, limit: int, before: str | None
    ) -> Sequence[AuditRecord]:
        """Newest first; `before` is an audit id: only audits created before it. No `result`."""

    async def load_events(self, audit_id: str, after: int = 0) -> Sequence[StoredEvent]:
        """Stored events with position > after, in order."""

    async def unfinished(self) -> Sequence[AuditRecord]:
        """Audits left queued or running (by a previous process that stopped)."""
