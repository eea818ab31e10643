"""Where audits and their events are kept: the `Store` interface and its records.

The event log (server/streaming/log.py) holds what live subscribers read; a `Store` sits under it
and keeps the same entries for history and for restarts. An event is stored as the exact
JSON text sent in its SSE `data:` line, with its position and type, so a stored audit
replays byte-identically: `protocol.sse.encode_message(data, event=type, id=position)`.

`append_event` never waits on I/O (the log calls it on every event, on the event loop);
`flush` makes everything appended so far durable and is awaited before a terminal event
is shown to subscribers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
