"""Where audits and their events are kept: the interface, its records, and the in-memory store.

The event log (server/log.py) holds what live subscribers read; a `Store` sits under it
and keeps the same entries for history and for restarts. An event is stored as the exact
JSON text sent in its SSE `data:` line, with its position and type, so a stored audit
replays byte-identically: `protocol.sse.encode_message(data, event=type, id=position)`.

`append_event` never waits on I/O (the log calls it on every event, on the event loop);
`flush` makes everything appended so far durable and is awaited before a terminal event
is shown to subscribers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

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


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None:
        """Flush what is pending, then release the store."""

    async def create_audit(self, record: AuditRecord) -> None: ...
    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        """Set fields of AuditRecord (status, started_at, finished_at, result, error_code ...)."""

    def append_event(self, audit_id: str, event: StoredEvent) -> None:
        """Queue an event for writing; never blocks. Positions arrive in order per audit."""

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


class MemoryStore:
    """A `Store` that forgets everything on exit: for tests and `--data-dir ''`."""

    def __init__(self) -> None:
        self._audits: dict[str, AuditRecord] = {}
        self._events: dict[str, list[StoredEvent]] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_audit(self, record: AuditRecord) -> None:
        self._audits[record.id] = record
        self._events[record.id] = []

    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        self._audits[audit_id] = replace(self._audits[audit_id], **changes)

    def append_event(self, audit_id: str, event: StoredEvent) -> None:
        self._events[audit_id].append(event)

    async def flush(self) -> None:
        return None

    async def get_audit(self, audit_id: str) -> AuditRecord | None:
        return self._audits.get(audit_id)

    async def list_audits(
        self, *, status: AuditStatus | None, limit: int, before: str | None
    ) -> Sequence[AuditRecord]:
        records = sorted(self._audits.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        if before is not None and before in self._audits:
            cursor = self._audits[before]
            records = [r for r in records if (r.created_at, r.id) < (cursor.created_at, cursor.id)]
        if status is not None:
            records = [r for r in records if r.status == status]
        return [replace(r, result=None) for r in records[:limit]]

    async def load_events(self, audit_id: str, after: int = 0) -> Sequence[StoredEvent]:
        return [e for e in self._events.get(audit_id, ()) if e.position > after]

    async def unfinished(self) -> Sequence[AuditRecord]:
        return [r for r in self._audits.values() if r.status not in FINISHED]
