"""Cancel from any instance: an audit queued anywhere, or running on another instance.

An audit still waiting in the shared queue is closed right here, by one script (its
`audit_error` `cancelled` and its record, with a new fencing token), so no instance
will claim it. An audit that has an owner is asked to stop: a `cancel:ID` key is set,
then the id is published on the `cancel` channel (Redis pub/sub). Every instance
listens, and the one running it cancels it as a local DELETE would. A message is lost on
an instance that is not listening yet or has not adopted the audit yet (it is between its
claim and its run): the key covers both, as an instance looks for it right after it
adopts a claimed audit and after it subscribes. The asking instance then waits, on its
follower log, for the audit's terminal event, so the DELETE
answers with the audit ended, wherever it ran.
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
START_WAIT_SECONDS: Final = 5.0


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
        self.listening = asyncio.Event()  # subscribed to the channel at least once
        self._cancels: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(self) -> None:
        """Start listening; return once subscribed (or after START_WAIT_SECONDS without
        Redis: the listener goes on trying), so a serving instance hears cancels."""
        self._listener = asyncio.create_task(self._listen_forever(), name="veritas-cancel")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT_SECONDS):
                await self.listening.wait()

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
        closed = 0
        if record.status == "queued":
            closed = await close_audit(self.store, audit_id, "queued", "cancelled", QUEUED_MESSAGE)
        if not closed:  # it has an owner (claimed since, if it read 'queued')
            await self.ask_owner(audit_id)
        log = await self.followers.log(audit_id)
        if log is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wait_seconds):
                    await log.wait(10**18)  # returns once the log has ended
        # The terminal event and the record's outcome are stored by one script: both, or
        # neither (the wait ran out).
        return await self.store.get_audit(audit_id)

    async def ask_owner(self, audit_id: str) -> None:
        key = self.store.keys.cancel(audit_id)
        ttl = max(int(self.wait_seconds * 1000) * 10, 60_000)  # then the request is moot
        await self.store.call(lambda c: c.set(key, "1", px=ttl))
        await self.store.call(lambda c: c.publish(self.channel, audit_id))

    async def stop_if_asked(self, audit_id: str) -> None:
        """Cancel a local audit whose cancel was asked while no message could reach it."""
        key = self.store.keys.cancel(audit_id)
        if await self.store.call(lambda c: c.exists(key)):
            self._stop_local(audit_id)

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
            self.listening.set()
            for audit_id in self._local_ids():  # asked while this instance was not listening
                await self.stop_if_asked(audit_id)
            while not self._closing:
                message = await pubsub.get_message(timeout=0.5)
                if message is not None:
                    self._stop_local(str(message["data"]))

    def _local_ids(self) -> list[str]:
        scheduler = self.scheduler()
        return [] if scheduler is None else scheduler.live_ids()

    def _stop_local(self, audit_id: str) -> None:
        scheduler = self.scheduler()
        if scheduler is None or scheduler.get(audit_id) is None:
            return
        task = asyncio.create_task(scheduler.cancel(audit_id), name=f"cancel {audit_id}")
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
