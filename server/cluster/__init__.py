"""Several instances on one shared store: the work queue, leases, followers, remote cancel.

`FOLLOWERS` is the application key the HTTP edge asks for a log it does not own, and
`CANCELLER` for cancelling an audit it does not run. The modules that implement them
(and import `redis`) are loaded only when a shared store is configured.
"""

from __future__ import annotations

from typing import Final, Protocol

from aiohttp import web

from server.stores.store import AuditRecord
from server.streaming.log import AuditLog


class LogSource(Protocol):
    async def log(self, audit_id: str) -> AuditLog | None:
        """A live log of an audit another instance runs, or None when there is none."""


class RemoteCancel(Protocol):
    async def cancel(self, audit_id: str) -> AuditRecord | None:
        """Cancel an audit this instance does not run; its record once ended; None if it is
        unknown or had already ended."""


FOLLOWERS: Final = web.AppKey("followers", LogSource)
CANCELLER: Final = web.AppKey("canceller", RemoteCancel)
