"""The in-memory `Store`: forgets everything on exit; for tests and `--data-dir ''`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from server.stores.store import FINISHED, AuditRecord, AuditStatus, StoredEvent


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
