"""Several instances on one shared store: followers of audits other instances run.

`FOLLOWERS` is the application key the HTTP edge asks for a log it does not own; the
modules that implement it (and import `redis`) are loaded only when a shared store is
configured.
"""

from __future__ import annotations

from typing import Final, Protocol

from aiohttp import web

from server.streaming.log import AuditLog


class LogSource(Protocol):
    async def log(self, audit_id: str) -> AuditLog | None:
        """A live log of an audit another instance runs, or None when there is none."""


FOLLOWERS: Final = web.AppKey("followers", LogSource)
