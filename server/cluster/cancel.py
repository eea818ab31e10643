"""Cancel from any instance: an audit queued anywhere, or running on another instance.

An audit still waiting in the shared queue is closed right here, by one script (its
`audit_error` `cancelled` and its record, with a new fencing token), so no instance
will claim it. An audit running elsewhere is asked to stop on the `cancel` channel
(Redis pub/sub): every instance listens, and the one running it cancels it as a local
DELETE would. The asking instance then waits, on its follower log, for the audit's
terminal event, so the DELETE answers with the audit ended, wherever it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

from redis.exceptions import RedisError

from server.cluster.followers import Followers
from server.cluster.leases import close_audit
from server.stores.redis import Client, RedisStore
from server.stores.store import FINISHED, AuditRecord
from server.streaming.scheduler import Scheduler

logger: Final = logging.getLogger("server.cluster.cancel")
QUEUED_MESSAGE: Final = "cancelled before it started"


class Canceller:
    """`cancel(audit_id)`; `start()` / `close()` the listener."""

    def __init__(
        self,
        store: RedisStore,
        followers: Followers,
        scheduler: Callable[[], Scheduler | None],
        wait_seconds: float,
    ) -> None:
        self.store = store
        self.followers = followers
        self.scheduler = scheduler
        self.wait_seconds = wait_seconds  # how long a DELETE waits for the remote run to end
        self.channel = f"{store.keys.prefix}cancel"
        self._listener: asyncio.Task[None] | None = None
        self._cancels: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="veritas-cancel")

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            await self._listener
        if self._cancels:
            await asyncio.wait(self._cancels)

    async def cancel(self, audit_id: str) -> AuditRecord | None:
        """Cancel an audit not run here; its record once it has ended; None if it is unknown
        or had already ended."""
        record = await self.store.get_audit(audit_id)
        if record is None or record.status in FINISHED:
            return None
        if record.status == "queued":
            await close_audit(self.store, audit_id, "queued", "cancelled", QUEUED_MESSAGE)
        else:
            await self.store.call(lambda c: c.publish(self.channel, audit_id))
        log = await self.followers.log(audit_id)
        if log is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wait_seconds):
                    await log.wait(10**18)  # returns once the log has ended
        return await self.store.get_audit(audit_id)

    # -- the listener

    async def _listen_forever(self) -> None:
        while not self._closing:
            try:
                await self._listen_on_a_connection()
            except (RedisError, OSError) as exc:
                logger.warning("the cancel listener lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(0.5)

    async def _listen_on_a_connection(self) -> None:
        client: Client = self.store.client
        # A pub/sub object holds a connection of its own; it is polled, never cancelled.
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.channel)
            while not self._closing:
                message = await pubsub.get_message(timeout=0.5)
                if message is not None:
                    self._stop_local(str(message["data"]))

    def _stop_local(self, audit_id: str) -> None:
        scheduler = self.scheduler()
        if scheduler is None or scheduler.get(audit_id) is None:
            return
        task = asyncio.create_task(scheduler.cancel(audit_id), name=f"cancel {audit_id}")
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
