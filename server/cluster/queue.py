"""The work queue: audits accepted by any instance, run by whichever instance has a free slot.

`offer` puts a new audit (its record and `audit_queued` event already stored) on the
`queue` stream, in one script that also names the entry in the record (`entry`), keeps
the run's options there (`job`: a requeued audit runs with them again) and counts the
audit in `queued` (the depth `max_queued` is checked against); the accepting instance
keeps its lease alive until it is claimed. Only the entry the record names can claim the
audit, so an audit queued again under a new entry is never claimed twice. Each
instance is a consumer of the group `workers` and reads (`XREADGROUP ... BLOCK`) only
while its scheduler has a free slot, and no more entries than it has free slots. To
claim an entry it bumps the audit's fencing token to its own (the accepter then lets the
audit go), builds the audit's log from the stored events, and hands it to its scheduler;
the entry is then acknowledged and deleted. An audit that is no longer queued (cancelled,
or closed by a reaper) is skipped. An entry read by an instance that died before claiming
it is taken over (`XAUTOCLAIM`) once it has been idle for a lease.

The reader blocks on a connection of its own, woken with `CLIENT UNBLOCK` when it must stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from server.config import ServerConfig
from server.stores.redis import Client, RedisStore, decode_record
from server.stores.store import StoredEvent
from server.streaming.log import AuditLog
from server.streaming.scheduler import Audit, Scheduler

logger: Final = logging.getLogger("server.cluster.queue")
GROUP: Final = "workers"
BLOCK_MS: Final = 2000  # the longest one read blocks before it looks at the free slots again

# KEYS: record, lease, queued. ARGV: token, lease ms, the queue entry's id. 1: claimed;
# 0: no longer queued, or queued again under a newer entry (a requeue, see leases.py).
_CLAIM: Final = """
if redis.call('HGET', KEYS[1], 'status') ~= '"queued"' then return 0 end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry and entry ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1])
redis.call('HDEL', KEYS[1], 'entry')
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[3], string.match(KEYS[1], '[^:]+$'))
return 1
"""

# KEYS: queue, record, queued. ARGV: id, the run's options (JSON), created_at. The entry
# and the record name each other, so only the newest entry of an audit can claim it.
OFFER: Final = """
if redis.call('HGET', KEYS[2], 'status') ~= '"queued"' then return 0 end
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[2], 'entry', entry, 'job', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
"""


class WorkQueue:
    """`offer` from `Scheduler.share`; `start()` / `close()` the consumer."""

    def __init__(
        self,
        store: RedisStore,
        config: ServerConfig,
        scheduler: Callable[[], Scheduler | None],
    ) -> None:
        self.store = store
        self.config = config
        self.scheduler = scheduler
        self.key = store.keys.queue
        self._task: asyncio.Task[None] | None = None
        self._reader_id: int | None = None
        self._closing = False

    async def start(self) -> None:
        await self.store.call(self._create_group)
        self._task = asyncio.create_task(self._consume_forever(), name="veritas-work-queue")

    async def _create_group(self, client: Client) -> None:
        try:
            await client.xgroup_create(self.key, GROUP, "0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # BUSYGROUP: another instance made it
                raise

    async def close(self) -> None:
        self._closing = True
        if self._reader_id is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.store.call(lambda c: c.client_unblock(self._reader_id))
        if self._task is not None:
            await self._task

    async def offer(self, audit: Audit) -> None:
        """Put a new audit on the queue, once its first event is in Redis."""
        self.store.offer(audit.id)
        await self.store.flush()
        # What the run needs beyond the record is kept with it: a requeued audit runs again.
        job = json.dumps({"connect_to": audit.connect_to, "ca_pem": audit.ca_pem})
        keys = (self.key, self.store.keys.record(audit.id), self.store.keys.queued)
        args = (audit.id, job, audit.record.created_at)
        await self.store.call(lambda c: c.eval(OFFER, 3, *keys, *args))

    async def depth(self) -> int:
        """Audits waiting in the shared queue, whichever instance accepted them."""
        depth: int = await self.store.call(lambda c: c.zcard(self.store.keys.queued))
        return depth

    # -- the consumer

    async def _consume_forever(self) -> None:
        while not self._closing:
            try:
                await self._consume_on_a_connection()
            except (RedisError, OSError) as exc:
                logger.warning("the work queue's reader lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(0.5)

    async def _consume_on_a_connection(self) -> None:
        connection: Client = aioredis.Redis.from_url(
            self.store.url, decode_responses=True, single_connection_client=True
        )
        try:
            await self._create_group(connection)  # again: a restarted Redis may have lost it
            self._reader_id = int(await connection.client_id())
            while not self._closing:
                free = self._free_slots()
                if free <= 0:
                    await asyncio.sleep(0.05)  # a slot frees when an audit ends
                    continue
                for entry_id, values in await self._next(connection, free):
                    await self._take(entry_id, values)
        finally:
            self._reader_id = None
            await connection.aclose()

    def _free_slots(self) -> int:
        scheduler = self.scheduler()
        return 0 if scheduler is None else scheduler.free_slots

    async def _next(self, connection: Client, count: int) -> list[Any]:
        me = self.store.instance
        idle = self.store.settings.lease_ms
        stale: Any = await connection.xautoclaim(self.key, GROUP, me, idle, "0-0", count=count)
        if stale and stale[1]:
            return list(stale[1])
        reply: Any = await connection.xreadgroup(
            GROUP, me, {self.key: ">"}, count=count, block=BLOCK_MS
        )
        return list(reply[0][1]) if reply else []

    async def _take(self, entry_id: str, entry: dict[str, str]) -> None:
        if "id" in entry:
            try:
                await self._claim(entry_id, entry["id"])
            except (RedisError, OSError):
                raise  # the entry stays pending: claimed again after a lease
            except Exception:
                logger.exception("an audit from the queue could not be started")
        await self.store.call(lambda c: _done(c, self.key, entry_id))

    async def _claim(self, entry_id: str, audit_id: str) -> None:
        scheduler = self.scheduler()
        if scheduler is None:
            return
        keys = self.store.keys
        token = f"{self.store.instance}:claim:{secrets.token_hex(4)}"
        lease = (keys.record(audit_id), keys.lease(audit_id), keys.queued)
        claim_args = (token, self.store.settings.lease_ms, entry_id)
        claimed = await self.store.call(lambda c: c.eval(_CLAIM, 3, *lease, *claim_args))
        if not claimed:
            return
        fields: dict[str, str] = await self.store.call(lambda c: c.hgetall(keys.record(audit_id)))
        events = await self.store.load_events(audit_id)
        self.store.adopt(audit_id, token, fields, events)
        record = replace(decode_record(fields, with_result=True), status="queued")
        audit = Audit(record, self._log(audit_id, events))
        job = json.loads(fields.get("job", "{}"))
        audit.connect_to = tuple(job.get("connect_to", ()))
        audit.ca_pem = job.get("ca_pem")
        scheduler.adopt(audit)
        logger.info("audit claimed from the queue", extra={"audit_id": audit_id})
        # A cancel asked between the claim and the adoption found no audit here to stop.
        if await self.store.call(lambda c: c.exists(keys.cancel(audit_id))):
            await scheduler.cancel(audit_id)

    def _log(self, audit_id: str, events: list[StoredEvent] | Any) -> AuditLog:
        """The audit's log, holding the events stored so far, appending after them."""
        log = AuditLog(
            audit_id,
            self.config.log_limits,
            self.store,
            durable_visibility=self.config.durable_visibility,
        )
        log.restore(events)
        return log


async def _done(client: Client, key: str, entry_id: str) -> None:
    async with client.pipeline(transaction=False) as pipe:
        pipe.xack(key, GROUP, entry_id)
        pipe.xdel(key, entry_id)
        await pipe.execute()
