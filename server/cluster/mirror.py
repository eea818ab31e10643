"""A mirror log: the `AuditLog` of an audit another instance runs, filled from the shared store.

The SSE cursor code serves it unchanged. Entries are encoded from the stored JSON text
exactly as the owner encoded them, so a stream from any instance is byte-identical.
Nothing is staged: what the store returns is already acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.stores.store import StoredEvent
from server.streaming.log import AuditLog, LogLimits


class MirrorLog(AuditLog):
    """Grows by `add` only; closed once the terminal event arrives."""

    def __init__(self, audit_id: str, limits: LogLimits) -> None:
        super().__init__(audit_id, limits)

    def add(self, events: Sequence[StoredEvent]) -> None:
        """Events read from the store, in order; positions already held are skipped, and a
        hole stops the batch (the reader reads again from the end it holds)."""
        self.restore(events)
