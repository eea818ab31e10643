"""Leases: each instance keeps its audits alive, and closes the audits of instances gone silent.

An audit's record carries a fencing token, issued by the instance that accepted it (the
`RedisStore` writes it with the record, with a first lease). Every `lease/3` seconds the
owner renews `lease:{id}` for each audit it is still writing, as long as the record's
token is still its own; a token that changed means another instance took the audit over:
the store appends nothing more for it and the owner stops its worker.

Every instance runs a reaper. An unfinished audit whose lease has expired (its owner was
killed, or stopped longer than the lease) is closed by one script: a new token (which
fences the old owner), `audit_error` code `interrupted` after its last event, and the
record's outcome, all in one step, so exactly one instance closes it and its stream ends
in exactly one terminal event. Followers on any instance see that event like any other.

With `on_lost="requeue"` a running audit is queued again instead, by one script too (at
most `max_requeues` times, then it is closed as above). Its stream goes on at the next
ids, never reusing one: a second `audit_queued` (the same fields as the first) says the
audit runs again from the start, then come the new run's events, from its `hello`.
The reaper holds the requeued audit's lease (a new token) until an instance claims it.
A queued audit whose accepting instance went silent is queued again under a new entry,
with no event and not counted: it had not started.

Counts: the `stats` hash holds cluster-wide `reclaimed` (closed or requeued by a reaper)
and `requeued`, each raised in the script that does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from protocol.events import new_event
from protocol.jsonlines import to_json
from server.stores.redis import Client, RedisStore

logger: Final = logging.getLogger("server.cluster.leases")
MESSAGE: Final = "the instance running this audit stopped before it finished"

# KEYS: record, lease. ARGV: token, lease ms. 1: renewed (or the record is gone: Redis
# lost it, the store writes it again), 0: the token is another's.
_RENEW: Final = """
local held = redis.call('HGET', KEYS[1], 'token')
if not held then return 1 end
if held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lease, record, events, unfinished, queued, stats. ARGV: id, new token, finished_at,
# expire seconds, the terminal event's data, its code and message as JSON, and when to
# close: 'silent' (the lease has expired) or 'queued' (no instance has claimed it). The
# position of the event appended, or 0 when the audit is not to be closed.
_CLOSE: Final = """
local status = redis.call('HGET', KEYS[2], 'status')
if (not status) or status == '"complete"' or status == '"error"' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
if ARGV[8] == 'silent' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
-- A claimed audit reads 'queued' until its run starts; its claim took the queue entry.
if ARGV[8] == 'queued' then
  if status ~= '"queued"' or redis.call('HEXISTS', KEYS[2], 'entry') == 0 then return 0 end
end
local last = 0
local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
redis.call('XADD', KEYS[3], (last + 1) .. '-0', 't', 'audit_error', 'd', ARGV[5])
redis.call('HSET', KEYS[2], 'status', '"error"', 'error_code', ARGV[6],
  'error', ARGV[7], 'finished_at', ARGV[3], 'token', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[1])
if ARGV[8] == 'silent' then redis.call('HINCRBY', KEYS[6], 'reclaimed', 1) end
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return last + 1
"""


# KEYS: lease, record, events, queued, stats, queue. ARGV: id, new token, lease ms, max
# requeues, `audit_queued`'s data. The position of the event appended (0 when a queued
# audit got a new entry only); -1: nothing to do (finished, or its lease is alive); -2:
# requeued too often already (close it instead).
_REQUEUE: Final = """
local status = redis.call('HGET', KEYS[2], 'status')
if (not status) or status == '"complete"' or status == '"error"' then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local last = -1
if status ~= '"queued"' then
  local count = tonumber(redis.call('HGET', KEYS[2], 'requeues') or '0')
  if count >= tonumber(ARGV[4]) then return -2 end
  last = 0
  local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
  redis.call('XADD', KEYS[3], (last + 1) .. '-0', 't', 'audit_queued', 'd', ARGV[5])
  redis.call('HSET', KEYS[2], 'status', '"queued"', 'requeues', count + 1)
  redis.call('HDEL', KEYS[2], 'started_at')
  redis.call('HINCRBY', KEYS[5], 'reclaimed', 1)
  redis.call('HINCRBY', KEYS[5], 'requeued', 1)
end
redis.call('HSET', KEYS[2], 'token', ARGV[2])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local entry = redis.call('XADD', KEYS[6], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[2], 'entry', entry)
local created = cjson.decode(redis.call('HGET', KEYS[2], 'created_at'))
redis.call('ZADD', KEYS[4], created, ARGV[1])
if last < 0 then return 0 end
return last + 1
"""


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    lease_ms: int = 10_000
    on_lost: str = "interrupted"  # or "requeue": what a reaper does with a silent owner's audit
    max_requeues: int = 2  # a requeued audit runs again at most this many times

    @property
    def interval(self) -> float:
        """Seconds between two renewals (and two reaper passes): a third of the lease."""
        return self.lease_ms / 3000


class Leases:
    """Renews this instance's leases and reaps others' expired ones; `start()`, `close()`."""

    def __init__(self, store: RedisStore, settings: LeaseSettings) -> None:
        self.store = store
        self.settings = settings
        self.reaped: list[str] = []  # audits this instance closed, oldest first (bounded)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self._pass()  # start-up: close what instances that died left behind
        self._task = asyncio.create_task(self._run(), name="veritas-leases")

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            # Jittered, so instances started together do not reap in lockstep.
            pause = self.settings.interval * random.uniform(0.8, 1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._stop.wait()
            if not self._stop.is_set():
                await self._pass()

    async def _pass(self) -> None:
        try:
            await self.renew()
            await self.reap()
        except Exception:
            # Redis down or slow: the next pass tries again; the store reports its own failure.
            logger.exception("lease renewal or reaping failed")

    async def renew(self) -> None:
        owned = self.store.owned()
        if not owned:
            return
        keys = self.store.keys

        async def run(client: Client) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                for audit_id, token in owned.items():
                    lease = (keys.record(audit_id), keys.lease(audit_id))
                    pipe.eval(_RENEW, 2, *lease, token, self.settings.lease_ms)
                return list(await pipe.execute())

        for audit_id, renewed in zip(owned, await self.store.call(run), strict=True):
            if not renewed:
                self.store.lose(audit_id)

    async def reap(self) -> list[str]:
        """Close every unfinished audit whose lease has expired; the ids closed."""
        keys = self.store.keys
        ids: list[str] = await self.store.call(lambda c: c.zrange(keys.unfinished, 0, -1))
        owned = self.store.owned()
        closed = [
            audit_id for audit_id in ids if audit_id not in owned and await self._reap(audit_id)
        ]
        self.reaped = [*self.reaped, *closed][-1000:]
        return closed

    async def _reap(self, audit_id: str) -> bool:
        if self.settings.on_lost == "requeue" and await self._requeue(audit_id):
            return True
        position = await close_audit(self.store, audit_id, "silent", "interrupted", MESSAGE)
        if position:
            logger.warning(
                "audit closed as interrupted: its owner went silent (event %s)",
                position,
                extra={"audit_id": audit_id},
            )
        return bool(position)

    async def _requeue(self, audit_id: str) -> bool:
        """Queue the audit again; False when it is to be closed instead (requeued too often),
        or had nothing to do."""
        position = await requeue_audit(self.store, audit_id, self.settings.max_requeues)
        if position < 0:
            return False
        logger.warning(
            "audit queued again: its owner went silent (event %s)",
            position,
            extra={"audit_id": audit_id},
        )
        return True


async def close_audit(store: RedisStore, audit_id: str, when: str, code: str, message: str) -> int:
    """Append `audit_error` (code, message) after the audit's last event and close its record,
    in one step, if `when` holds ('silent': its lease expired; 'queued': nobody claimed it).
    The terminal event's position, or 0 when the audit was not closed. A new fencing token
    shuts out whoever held the audit."""
    keys = store.keys
    terminal = new_event("audit_error", 0, error=message, code=code)
    args = [
        audit_id,
        f"{store.instance}:{when}:{secrets.token_hex(4)}",
        repr(time.time()),
        store.settings.expire_seconds,
        to_json(terminal),
        json.dumps(code),
        json.dumps(message),
        when,
    ]
    targets = [keys.lease(audit_id), keys.record(audit_id), keys.events(audit_id)]
    targets += [keys.unfinished, keys.queued, keys.stats]
    position: int = await store.call(lambda c: c.eval(_CLOSE, len(targets), *targets, *args))
    return position


async def requeue_audit(store: RedisStore, audit_id: str, max_requeues: int) -> int:
    """Queue a silent owner's audit again (see the module docstring): the script's answer.

    This instance holds the audit (renews its lease) until an instance claims it: held
    before the script runs, since this instance's own queue reader may claim it at once."""
    keys = store.keys
    fields: dict[str, str] = await store.call(lambda c: c.hgetall(keys.record(audit_id)))
    if not fields or "url" not in fields:
        return -1
    queued = new_event(
        "audit_queued",
        0,
        audit_id=audit_id,
        url=json.loads(fields["url"]),
        tier=json.loads(fields["tier"]),
        ipc=json.loads(fields["ipc"]),
    )
    token = f"{store.instance}:requeue:{secrets.token_hex(4)}"
    targets = [keys.lease(audit_id), keys.record(audit_id), keys.events(audit_id)]
    targets += [keys.queued, keys.stats, keys.queue]
    args = [audit_id, token, store.settings.lease_ms, max_requeues, to_json(queued)]
    store.adopt(audit_id, token, fields, ())
    store.offer(audit_id)
    try:
        answer: int = await store.call(lambda c: c.eval(_REQUEUE, len(targets), *targets, *args))
    except BaseException:
        store.release(audit_id)
        raise
    if answer < 0:
        store.release(audit_id)
    return answer
