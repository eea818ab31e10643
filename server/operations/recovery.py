"""Restart recovery: audits a previous process left unfinished are closed as `interrupted`.

A queued or running audit cannot be resumed (its worker died with the old process, and
a fresh run would not be the audit its subscribers watched), so each one gets its
terminal event: `audit_error` code `interrupted`, appended after its last stored event,
then its record is closed. When the last stored event is already terminal (the process
stopped between committing it and the record change, which share one transaction in
`SQLiteStore` but not necessarily in other stores), only the record is closed, from it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Final

from protocol.events import TERMINAL_TYPES, new_event
from protocol.jsonlines import to_json
from server.stores.store import AuditRecord, Store, StoredEvent

logger: Final = logging.getLogger("server.operations.recovery")
MESSAGE: Final = "the server stopped before this audit finished"


async def recover_interrupted(store: Store) -> list[str]:
    """Close every unfinished audit in `store`; the ids closed, oldest first."""
    closed = []
    for record in await store.unfinished():
        await _close(store, record)
        closed.append(record.id)
        logger.warning(
            "audit closed as interrupted (was %s)", record.status, extra={"audit_id": record.id}
        )
    return closed


async def _close(store: Store, record: AuditRecord) -> None:
    stored = await store.load_events(record.id)
    last = stored[-1] if stored else None
    if last is not None and last.type in TERMINAL_TYPES:
        await store.update_audit(record.id, **_outcome(json.loads(last.data)))
        return
    terminal = new_event("audit_error", 0, error=MESSAGE, code="interrupted")
    position = 1 if last is None else last.position + 1
    store.append_event(record.id, StoredEvent(position, terminal.type, to_json(terminal)))
    await store.flush()
    await store.update_audit(record.id, **_outcome({"type": "audit_error", **terminal.fields}))


def _outcome(terminal: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {"finished_at": time.time()}
    if terminal.get("type") == "audit_complete":
        changes["status"] = "complete"
    else:
        changes.update(
            status="error",
            error_code=terminal.get("code", "interrupted"),
            error=terminal.get("error", MESSAGE),
        )
    return changes
