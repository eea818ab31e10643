"""Followers: live logs of audits other instances run, fed by one blocking reader per instance.

A client asking this instance for an audit it does not run gets a `MirrorLog`: the stored
events first (`XRANGE`), then whatever the owner appends, read by one task with one
`XREAD BLOCK` over every followed audit's stream. The reader has its own connection (a
blocked command holds its connection); when the set of followed audits changes, another
connection wakes it with `CLIENT UNBLOCK`, and it blocks again over the new set. The block
also ends every `block_ms`, so a wake that arrives just before the read cannot be lost.

A mirror is dropped once its terminal event arrives (the clients already reading it keep
it); at most `max_followed` audits are followed, the oldest dropped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.cluster.mirror import MirrorLog
from server.stores.redis import Client, RedisStore
from server.streaming.log import AuditLog, LogLimits

logger: Final = logging.getLogger("server.cluster.followers")


@dataclass(frozen=True, slots=True)
class FollowerSettings:
    max_followed: int = 1000  # audits followed at once by this instance
    block_ms: int = 2000  # the longest one XREAD blocks before it looks at the set again
    read_count: int = 1000  # entries per stream per XREAD
    retry_seconds: float = 0.5  # after a lost connection


class Followers:
    """Open with `start()`, stop with `close()`; `log(audit_id)` is the `LogSource`."""

    def __init__(
        self, store: RedisStore, limits: LogLimits, settings: FollowerSettings | None = None
    ) -> None:
        self.store = store
        self.limits = limits
        self.settings = settings or FollowerSettings()
        self._logs: OrderedDict[str, MirrorLog] = OrderedDict()
        self._reader: asyncio.Task[None] | None = None
        self._connection: Client | None = None
        self._reader_id: int | None = None  # CLIENT ID of the reader's connection
        self._closing = False
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="veritas-followers")

    async def close(self) -> None:
        self._closing = True
        await self._wake()
        if self._reader is not None:
            await self._reader

    async def log(self, audit_id: str) -> AuditLog | None:
        followed = self._logs.get(audit_id)
        if followed is not None:
            return followed
        if await self.store.get_audit(audit_id) is None:
            return None
        mirror = MirrorLog(audit_id, self.limits)
        mirror.add(await self.store.load_events(audit_id))
        if mirror.closed or self._closing:
            return mirror
        followed = self._logs.setdefault(audit_id, mirror)  # another request may have won
        while len(self._logs) > self.settings.max_followed:
            self._logs.popitem(last=False)
        await self._wake()
        return followed

    # -- the reader

    async def _wake(self) -> None:
        """Make the blocked XREAD return now (it reads the new set of streams next)."""
        self._changed.set()
        if self._reader_id is None:
            return
        with contextlib.suppress(RedisError, OSError):
            await self.store.client.client_unblock(self._reader_id)

    async def _read_forever(self) -> None:
        while not self._closing:
            try:
                await self._read_on_a_connection()
            except (RedisError, OSError) as exc:
                logger.warning("the followers' reader lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(self.settings.retry_seconds)

    async def _read_on_a_connection(self) -> None:
        connection: Client = aioredis.Redis.from_url(
            self.store.url, decode_responses=True, single_connection_client=True
        )
        try:
            self._reader_id = int(await connection.client_id())
            while not self._closing:
                await self._read_once(connection)
        finally:
            self._reader_id = None
            await connection.aclose()

    async def _read_once(self, connection: Client) -> None:
        self._changed.clear()
        streams = {
            self.store.keys.events(audit_id): f"{len(log)}-0"
            for audit_id, log in self._logs.items()
        }
        if not streams:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.block_ms / 1000):
                    await self._changed.wait()
            return
        reply: Any = await connection.xread(
            streams, count=self.settings.read_count, block=self.settings.block_ms
        )
        for key, entries in reply or ():
            self._deliver(key.rpartition(":")[2], entries)

    def _deliver(self, audit_id: str, entries: list[Any]) -> None:
        mirror = self._logs.get(audit_id)
        if mirror is None:
            return
        mirror.add([self.store.event_of(entry_id, values) for entry_id, values in entries])
        if mirror.closed:
            del self._logs[audit_id]
