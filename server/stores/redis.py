"""The shared `Store`: audits and their events in Redis, for several instances at once.

Keys (under `prefix`):

    audit:{id}     a hash: the record's fields, each as JSON; `token`, the audit's lease
    events:{id}    a stream: event N is stream id `N-0`, fields `t` (type) and `d` (the data)
    audits         a sorted set of every audit id by creation time (listing)
    unfinished     a sorted set of the audits still queued or running
    queued         a sorted set of the audits waiting in the work queue (its depth)
    queue          the work queue: a stream read by the consumer group `workers`
    lease:{id}     the audit's lease: its owner's token, expiring unless renewed
    stats          a hash of cluster-wide counters (reclaimed, requeued, fenced)
    instances      a hash: each instance's last report (running audits, leases held)

Replay is `XRANGE (N-0 +`; a stream is never trimmed, since exact resume needs every
id. Redis refuses an explicit id not above the last one, and the append script checks
that a batch starts right after the stream's last entry, so an append retried after a
lost reply can never duplicate an event.

Writes form one ordered pipeline (`WriteQueue`, as in the SQLite store): `append_events`
only queues; a writer task sends whatever is queued as one Redis pipeline (one round
trip), then tells each batch's `CommitListener`: subscribers see an event only once Redis has
acknowledged it. Each batch goes through one Lua script that checks the audit's fencing
token (an instance that lost the audit's lease can append nothing more) and its first
position; a terminal event sets the record's status in the same script, so the event
and the record's outcome are one atomic change.

While an audit runs the store keeps the events it appended (`_tails`): if Redis comes
back without them (restarted without persistence), the next batch finds a gap and the
missing events are appended again, so followers still see contiguous ids.

A lost connection is retried for `reconnect_seconds`; past that the store stops as the
SQLite one does (`failure`, `StoreUnavailable`). Reads are shielded from cancellation:
a command interrupted halfway would leave its pooled connection with an unread reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from protocol.events import TERMINAL_TYPES
from server.config import ServerConfig
from server.stores.batching import Events, WriteQueue
from server.stores.encoding import check_text, json_default
from server.stores.errors import StoreError, StoreUnavailable
from server.stores.store import FINISHED, AuditRecord, AuditStatus, CommitListener, StoredEvent

logger: Final = logging.getLogger("server.stores.redis")
_RECORD_FIELDS: Final = tuple(f.name for f in fields(AuditRecord))
_T = TypeVar("_T")
# redis-py's annotations cannot tell that `decode_responses=True` makes every reply str.
Client = Any
_LOST: Final = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS: events, record, unfinished, queued. ARGV: token (the record's, if it has one),
# finished_at, expire seconds (0 = never), then position, type, data for each event. A
# terminal event sets the record's outcome in the same step, so they commit together.
_APPEND: Final = """
if redis.call('EXISTS', KEYS[2]) == 0 then return {'missing', '0'} end
local held = redis.call('HGET', KEYS[2], 'token')
if held and held ~= ARGV[1] then return {'fenced', held} end
local last = 0
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
if last ~= tonumber(ARGV[4]) - 1 then return {'gap', tostring(last)} end
for i = 4, #ARGV, 3 do
  redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 't', ARGV[i + 1], 'd', ARGV[i + 2])
  if ARGV[i + 1] == 'audit_complete' or ARGV[i + 1] == 'audit_error' then
    local status = 'complete'
    if ARGV[i + 1] == 'audit_error' then
      status = 'error'
      local event = cjson.decode(ARGV[i + 2])
      if event.code then redis.call('HSET', KEYS[2], 'error_code', cjson.encode(event.code)) end
      if event.error then redis.call('HSET', KEYS[2], 'error', cjson.encode(event.error)) end
    end
    redis.call('HSET', KEYS[2], 'status', cjson.encode(status), 'finished_at', ARGV[2])
    redis.call('HDEL', KEYS[2], 'token')
    redis.call('ZREM', KEYS[3], string.match(KEYS[2], '[^:]+$'))
    redis.call('ZREM', KEYS[4], string.match(KEYS[2], '[^:]+$'))
    if tonumber(ARGV[3]) > 0 then
      redis.call('EXPIRE', KEYS[1], ARGV[3])
      redis.call('EXPIRE', KEYS[2], ARGV[3])
    end
  end
end
return {'ok', ARGV[#ARGV - 2]}
"""

# KEYS: record, audits, unfinished, lease. ARGV: id, created_at, lease ms (0: finished, no
# lease), token, then field, value pairs. An unfinished audit starts with a lease: no
# reaper takes it before its owner's first heartbeat.
_CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '0' then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[3])
end
return 1
"""

# KEYS: record, unfinished, events, queued. ARGV: id, finished ('1'/'0'), expire seconds, token,
# the number of fields to delete, their names, then field, value pairs to set.
_UPDATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local held = redis.call('HGET', KEYS[1], 'token')
if held and held ~= ARGV[4] then return -1 end
local dels = tonumber(ARGV[5])
if dels > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 6, 5 + dels)) end
if #ARGV > 5 + dels then redis.call('HSET', KEYS[1], unpack(ARGV, 6 + dels)) end
if ARGV[2] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  if tonumber(ARGV[3]) > 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    redis.call('EXPIRE', KEYS[3], ARGV[3])
  end
end
return 1
"""


# KEYS: audits, unfinished, queued. ARGV: prefix, max audits (-1: no limit), created
# before (-1: no limit), the most to delete in one call. Finished audits only, oldest
# first: past the age, then past the count (which counts every audit, as in SQLite).
# The ids deleted. Key names are built here: one Redis, not a Redis Cluster.
_PRUNE: Final = """
local deleted = {}
local budget = tonumber(ARGV[4])
local function status_of(id)
  return redis.call('HGET', ARGV[1] .. 'audit:' .. id, 'status')
end
local function prune(id, status)
  if not status then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    return true
  end
  if status ~= '"complete"' and status ~= '"error"' then return false end
  redis.call('DEL', ARGV[1] .. 'audit:' .. id, ARGV[1] .. 'events:' .. id)
  redis.call('ZREM', KEYS[1], id)
  table.insert(deleted, id)
  budget = budget - 1
  return true
end
if tonumber(ARGV[3]) >= 0 then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])
  for _, id in ipairs(old) do
    if budget <= 0 then break end
    prune(id, status_of(id))
  end
end
if tonumber(ARGV[2]) >= 0 then
  local kept = 0
  while budget > 0 do
    local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
    if excess <= 0 then break end
    local ids = redis.call('ZRANGE', KEYS[1], kept, kept + math.min(excess, budget) - 1)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if not prune(id, status_of(id)) then kept = kept + 1 end
    end
  end
end
return deleted
"""


@dataclass(frozen=True, slots=True)
class RedisSettings:
    prefix: str = "veritas:"
    batch_max_events: int = 512  # about the most events one pipeline carries
    max_pending_bytes: int = 64 * 1024 * 1024  # queued, unacknowledged event data
    reconnect_seconds: float = 30.0  # a lost connection is retried this long, then the store stops
    expire_seconds: int = 30 * 86400  # a finished audit's keys live this long; 0: forever
    max_connections: int = 16  # the pool for writes and reads (blocking readers have their own)
    replay_page: int = 1000  # entries per XRANGE when loading events
    prune_page: int = 500  # audits one pruning script deletes at most (it blocks Redis meanwhile)
    lease_ms: int = 10_000  # an owner silent this long loses its audits to another instance


def redis_settings(config: ServerConfig) -> RedisSettings:
    """The server's limits for this store, from its one configuration."""
    return RedisSettings(
        batch_max_events=config.store_batch_events,
        max_pending_bytes=config.store_max_pending_bytes,
        expire_seconds=round(config.retention_max_age_days * 86400),
        lease_ms=round(config.lease_seconds * 1000),
    )


@dataclass(slots=True)
class _Write:
    """An awaited write: a script call, its arguments, its caller's future."""

    script: str
    keys: list[str]
    args: list[Any]
    future: asyncio.Future[Any]
    what: str


_Item = Events | _Write


@dataclass(slots=True)
class Keys:
    prefix: str

    def record(self, audit_id: str) -> str:
        return f"{self.prefix}audit:{audit_id}"

    def events(self, audit_id: str) -> str:
        return f"{self.prefix}events:{audit_id}"

    def lease(self, audit_id: str) -> str:
        return f"{self.prefix}lease:{audit_id}"

    def cancel(self, audit_id: str) -> str:
        """Set while a cancel waits for the audit's owner (see server/cluster/cancel.py)."""
        return f"{self.prefix}cancel:{audit_id}"

    @property
    def audits(self) -> str:
        return f"{self.prefix}audits"

    @property
    def unfinished(self) -> str:
        return f"{self.prefix}unfinished"

    @property
    def queued(self) -> str:
        return f"{self.prefix}queued"

    @property
    def queue(self) -> str:
        return f"{self.prefix}queue"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    @property
    def instances(self) -> str:
        return f"{self.prefix}instances"


class RedisStore:
    """A `Store` in Redis; open with `await open()`, release with `await close()`."""

    def __init__(
        self,
        url: str,
        settings: RedisSettings | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.url = url
        self.settings = settings or RedisSettings()
        self.keys = Keys(self.settings.prefix)
        self.dropped_events = 0
        self.fenced_count = 0  # audits this instance found taken over while it ran them
        self.failure: str | None = None
        self.shared = True  # other instances use the same data: no start-up recovery
        self.on_fenced: Callable[[str], None] | None = None  # told an audit id once it is fenced
        self._on_batch = on_batch
        self._client: Client | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: WriteQueue[_Write] = WriteQueue(
            self.settings.batch_max_events, self.settings.max_pending_bytes
        )
        self.instance = secrets.token_hex(6)  # this process, in the tokens it issues
        self._serial = 0
        self._tokens: dict[str, str] = {}  # audit id -> the lease token its appends carry
        self._tails: dict[str, list[StoredEvent]] = {}  # events of audits still appending
        self._held: dict[str, dict[str, str]] = {}  # their records' fields, as last written
        self._fenced: set[str] = set()
        self._offered: set[str] = set()  # created here, waiting in the work queue
        self._reads: set[asyncio.Task[Any]] = set()
        self._scripts: dict[str, str] = {}  # source -> sha

    # -- lifecycle

    async def open(self) -> None:
        if self._client is not None:
            raise RuntimeError("the store is already open")
        # A blocking pool: past `max_connections` a command waits for a connection.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, decode_responses=True, max_connections=self.settings.max_connections
        )
        client = aioredis.Redis.from_pool(pool)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise StoreError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._client = client
        await self._check_policy(client)
        await self._load_scripts(client)
        loop = self._queue.run(self._write_batch, 0.0, self._writer_failed)
        self._writer = asyncio.create_task(loop, name="veritas-redis-writer")

    async def close(self) -> None:
        """Send everything queued, stop the writer, close the connections."""
        if self._client is None:
            return
        self._queue.close()
        if self._writer is not None:
            await self._writer
        if self._reads:
            await asyncio.wait(self._reads)
        await self._client.aclose()
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the store is not open")
        return self._client

    async def _check_policy(self, client: Client) -> None:
        """Eviction would silently delete events: say so loudly (the store still opens)."""
        try:
            policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
        except RedisError:
            return  # CONFIG may be renamed away by the operator
        if policy not in (None, "noeviction"):
            logger.critical(
                "Redis maxmemory-policy is %s: set noeviction, or events are lost", policy
            )

    # -- leases (the cluster sets the token an audit's appends carry)

    def hold(self, audit_id: str, token: str) -> None:
        """Appends for this audit carry `token` from now on; refused once it is not current."""
        self._tokens[audit_id] = token

    def fenced(self, audit_id: str) -> bool:
        return audit_id in self._fenced

    def owned(self) -> dict[str, str]:
        """The audits this store is writing (created here, not yet ended) and their tokens."""
        return {audit_id: self._tokens[audit_id] for audit_id in self._held}

    def lose(self, audit_id: str) -> None:
        """Another instance took this audit over: append nothing more for it, tell the owner.
        An audit offered to the work queue and claimed is handed over, not lost: dropped quietly."""
        if audit_id in self._offered:
            self._offered.discard(audit_id)
            self._forget_held(audit_id)
            return
        if audit_id in self._fenced:
            return
        logger.error("audit taken over by another instance", extra={"audit_id": audit_id})
        self.fenced_count += 1
        self._fenced.add(audit_id)
        self._forget_held(audit_id)
        if self.on_fenced is not None:
            self.on_fenced(audit_id)

    def release(self, audit_id: str) -> None:
        """Hold this audit no more (a hold taken for a requeue that did not happen)."""
        self._forget_held(audit_id)

    def offer(self, audit_id: str) -> None:
        """This audit waits in the work queue: its lease is kept until an instance claims it."""
        self._offered.add(audit_id)

    def adopt(
        self, audit_id: str, token: str, fields: dict[str, str], events: Sequence[StoredEvent]
    ) -> None:
        """This instance claimed the audit (token): its appends carry the token from now on."""
        self._offered.discard(audit_id)
        self._fenced.discard(audit_id)
        self._held[audit_id] = {k: v for k, v in fields.items() if k != "token"} | {"token": token}
        self._tokens[audit_id] = token
        self._tails[audit_id] = list(events)

    async def call(self, command: Callable[[Client], Awaitable[_T]]) -> _T:
        """Run commands on the pool, to their end even if the caller is cancelled."""
        return await self._read(command)

    # -- writes

    async def create_audit(self, record: AuditRecord) -> None:
        values = _encode_fields({name: getattr(record, name) for name in _RECORD_FIELDS})
        if record.status not in FINISHED:  # its owner's appends must carry this token
            self._serial += 1
            values["token"] = f"{self.instance}:{self._serial}"
        pairs = [item for pair in values.items() for item in pair]
        keys = self._create_keys(record.id)
        lease = self.settings.lease_ms if "token" in values else 0
        args = [record.id, record.created_at, lease, values.get("token", ""), *pairs]
        created = await self._write(_CREATE, keys, args, "create")
        if not created:
            raise StoreError(f"audit {record.id} already exists")
        if "token" in values:
            self._held[record.id] = values
            self._tokens[record.id] = values["token"]

    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        unknown = set(changes) - (set(_RECORD_FIELDS) - {"id"})
        if unknown:
            raise TypeError(f"update_audit cannot set {sorted(unknown)}")
        if not changes:
            return
        removed = [name for name, value in changes.items() if value is None]
        values = _encode_fields({k: v for k, v in changes.items() if v is not None})
        pairs = [item for pair in values.items() for item in pair]
        finished = "1" if changes.get("status") in FINISHED else "0"
        keys = [self.keys.record(audit_id), self.keys.unfinished, self.keys.events(audit_id)]
        keys.append(self.keys.queued)
        token = self._tokens.get(audit_id, "")
        args = [audit_id, finished, self.settings.expire_seconds, token, len(removed), *removed]
        if await self._write(_UPDATE, keys, [*args, *pairs], "update") == -1:
            raise StoreError(f"audit {audit_id} is fenced: another instance took it over")
        held = self._held.get(audit_id)
        if held is not None:
            for name in removed:
                held.pop(name, None)
            held.update(values)

    def append_events(
        self,
        audit_id: str,
        events: Sequence[StoredEvent],
        listener: CommitListener | None = None,
    ) -> bool:
        self._check_working()
        if self._queue.closing or self._client is None:
            self._drop(audit_id, events)
            return False
        if not events:
            return True
        for event in events:
            check_text(event.data, "event data")
        size = sum(len(event.data) for event in events)
        if self._queue.over(size) and not any(e.type in TERMINAL_TYPES for e in events):
            self._drop(audit_id, events)
            return False
        token = self._tokens.get(audit_id, "")
        self._queue.put(Events(audit_id, list(events), listener, size, token))
        return True

    def append_event(self, audit_id: str, event: StoredEvent) -> None:
        self.append_events(audit_id, (event,))

    async def flush(self) -> None:
        self._check_working()
        await self._queue.flush()

    async def prune(
        self,
        *,
        max_audits: int | None,
        max_age_seconds: float | None,
        now: float | None = None,
    ) -> list[str]:
        """Delete finished audits created before the age limit, then the oldest finished ones
        until at most `max_audits` remain (audits not finished count but stay), as the SQLite
        store does; from any instance, at once or not: each step is one script. The ids
        deleted, oldest first. (A finished audit's keys also expire after the age limit.)"""
        cutoff = -1.0 if max_age_seconds is None else (now or time.time()) - max_age_seconds
        keys = [self.keys.audits, self.keys.unfinished, self.keys.queued]
        limit = self.settings.prune_page
        args = [self.keys.prefix, -1 if max_audits is None else max_audits, repr(cutoff), limit]
        deleted: list[str] = []
        while True:
            page: list[str] = await self._read(lambda c: c.eval(_PRUNE, len(keys), *keys, *args))
            deleted += page
            if len(page) < limit:
                return deleted

    # -- reads

    async def get_audit(self, audit_id: str) -> AuditRecord | None:
        raw: dict[str, str] = await self._read(lambda r: r.hgetall(self.keys.record(audit_id)))
        return decode_record(raw, with_result=True) if raw else None

    async def list_audits(
        self, *, status: AuditStatus | None, limit: int, before: str | None
    ) -> Sequence[AuditRecord]:
        return await self._read(lambda r: self._list(r, status, limit, before))

    async def load_events(self, audit_id: str, after: int = 0) -> Sequence[StoredEvent]:
        return await self._read(lambda r: self._range(r, audit_id, after))

    async def unfinished(self) -> Sequence[AuditRecord]:
        async def read(client: Client) -> list[AuditRecord]:
            ids: list[str] = await client.zrange(self.keys.unfinished, 0, -1)
            return [r for r in await self._records(client, ids, with_result=True) if r]

        return await self._read(read)

    async def read_events(
        self, client: Client, audit_id: str, after: int, count: int | None = None
    ) -> list[StoredEvent]:
        """One XRANGE page after `after`, on the given connection."""
        key = self.keys.events(audit_id)
        entries: list[Any] = await client.xrange(key, f"({after}-0", "+", count=count)
        return [_stored(entry_id, values) for entry_id, values in entries]

    @staticmethod
    def event_of(entry_id: str, values: dict[str, str]) -> StoredEvent:
        """The event a stream entry holds (as XRANGE and XREAD return it)."""
        return _stored(entry_id, values)

    async def _range(self, client: Client, audit_id: str, after: int) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        while True:
            page = await self.read_events(client, audit_id, after, self.settings.replay_page)
            found += page
            if len(page) < self.settings.replay_page:
                return found
            after = page[-1].position

    async def _list(
        self, client: Client, status: str | None, limit: int, before: str | None
    ) -> list[AuditRecord]:
        cursor: tuple[float, str] | None = None
        if before is not None:
            score = await client.zscore(self.keys.audits, before)
            cursor = None if score is None else (float(score), before)
        top = "+inf" if cursor is None else cursor[0]
        found: list[AuditRecord] = []
        offset = 0
        page = max(limit * 2, 50)
        while len(found) < limit:
            rows: list[tuple[str, float]] = await client.zrevrangebyscore(
                self.keys.audits, top, "-inf", start=offset, num=page, withscores=True
            )
            ids = [i for i, score in rows if cursor is None or (float(score), i) < cursor]
            records = await self._records(client, ids, with_result=False)
            found += [r for r in records if r is not None and status in (None, r.status)]
            await self._forget(client, [i for i, r in zip(ids, records, strict=True) if r is None])
            if len(rows) < page:
                break
            offset += page
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return found[:limit]

    async def _records(
        self, client: Client, ids: Sequence[str], *, with_result: bool
    ) -> list[AuditRecord | None]:
        if not ids:
            return []
        async with client.pipeline(transaction=False) as pipe:
            for audit_id in ids:
                pipe.hgetall(self.keys.record(audit_id))
            raws = await pipe.execute()
        return [decode_record(raw, with_result=with_result) if raw else None for raw in raws]

    async def _forget(self, client: Client, ids: list[str]) -> None:
        """Ids whose record expired leave the indexes (expiry cannot reach into a set)."""
        if ids:
            await client.zrem(self.keys.audits, *ids)
            await client.zrem(self.keys.unfinished, *ids)

    async def _read(self, read: Callable[[Client], Awaitable[_T]]) -> _T:
        """Run a read to its end even if its caller is cancelled (see the module docstring)."""
        client = self.client

        async def run() -> _T:
            try:
                try:
                    return await read(client)
                except (RedisConnectionError, RedisTimeoutError):
                    # A pooled connection that a Redis restart broke fails once; a read is
                    # safe to repeat on a fresh one.
                    return await read(client)
            except (RedisError, OSError) as exc:
                raise StoreError(f"Redis: {exc}") from exc

        task = asyncio.ensure_future(run())
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)
        return await asyncio.shield(task)

    # -- the pipeline

    def _check_working(self) -> None:
        if self.failure is not None:
            raise StoreUnavailable(self.failure)

    async def _write(self, script: str, keys: list[str], args: list[Any], what: str) -> Any:
        self._check_working()
        if self._queue.closing or self._client is None:
            raise RuntimeError("write to a store that is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Write(script, keys, args, future, what))
        return await future

    def _drop(self, audit_id: str, events: Sequence[StoredEvent]) -> None:
        self.dropped_events += len(events)
        logger.warning(
            "%d events from position %d not stored: the store is closed or its backlog is full",
            len(events),
            events[0].position if events else 0,
            extra={"audit_id": audit_id},
        )

    def _writer_failed(self, exc: Exception) -> None:
        self._fail(f"the Redis writer failed: {exc!r}")  # fail-stop: see the docstring

    async def _write_batch(self, batch: list[_Item]) -> None:
        """The queue's `commit`: one pipeline, retried while Redis is unreachable (for
        `reconnect_seconds`), then its items settled."""
        deadline = time.monotonic() + self.settings.reconnect_seconds
        while True:
            try:
                # Shielded: a pipeline cut halfway would leave its connection unusable.
                results = await asyncio.shield(self._send(batch))
                if not any(_no_script(result) for result in results):
                    break
                await self._load_scripts(self.client)  # a restarted Redis forgot them
            except _LOST as exc:
                if time.monotonic() > deadline:
                    self._fail(
                        f"Redis unreachable for {self.settings.reconnect_seconds}s: {exc}", batch
                    )
                    return
                logger.warning("Redis connection lost (%s); retrying", exc)
                await asyncio.sleep(0.2)
        events = sum(len(item.events) for item in batch if isinstance(item, Events))
        if events and self._on_batch is not None:
            self._on_batch(events)
        await self._settle(batch, results)

    async def _send(self, batch: Sequence[_Item]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for item in batch:
                if isinstance(item, Events):
                    self._call(pipe, _APPEND, *self._append_args(item))
                else:
                    self._call(pipe, item.script, item.keys, item.args)
            return list(await pipe.execute(raise_on_error=False))

    def _call(self, pipe: Any, script: str, keys: list[str], args: list[Any]) -> None:
        # By digest: the script's text is sent once per connection lifetime of Redis, not
        # with every batch. A batch refused for NOSCRIPT is sent again after a reload
        # (every write in it is safe to repeat).
        pipe.evalsha(self._scripts[script], len(keys), *keys, *args)

    async def _load_scripts(self, client: Client) -> None:
        for script in (_APPEND, _CREATE, _UPDATE):
            self._scripts[script] = await client.script_load(script)

    def _append_args(self, item: Events) -> tuple[list[str], list[Any]]:
        keys = [
            self.keys.events(item.audit_id),
            self.keys.record(item.audit_id),
            self.keys.unfinished,
            self.keys.queued,
        ]
        args: list[Any] = [item.token, json.dumps(time.time()), self.settings.expire_seconds]
        for event in item.events:
            args += [event.position, event.type, event.data]
        return keys, args

    async def _settle(self, batch: Sequence[_Item], results: Sequence[Any]) -> None:
        for item, result in zip(batch, results, strict=True):
            if isinstance(item, Events):
                await self._settle_events(item, result)
            elif isinstance(result, Exception):
                if not item.future.done():
                    item.future.set_exception(StoreError(f"Redis {item.what}: {result}"))
            elif not item.future.done():
                item.future.set_result(result)

    async def _settle_events(self, item: Events, result: Any) -> None:
        if isinstance(result, ResponseError):
            raise result  # a script error is a bug or a broken Redis: stop
        outcome, value = result
        if outcome == "missing" and await self._recreate(item.audit_id):
            outcome, value = "gap", "0"
        if outcome == "gap" and await self._refill(item, int(value)):
            outcome = "ok"
        if outcome == "ok":
            self._keep_tail(item)
            if item.listener is not None:
                item.listener.committed(item.events[-1].position)
            return
        reason = f"audit {item.audit_id}: append refused ({outcome} {value})"
        if outcome == "fenced":
            self.lose(item.audit_id)
        logger.error("%s", reason, extra={"audit_id": item.audit_id})
        if item.listener is not None:
            item.listener.failed(reason)

    async def _refill(self, item: Events, last: int) -> bool:
        """The stream's last id is not the one before this batch: either this batch was
        already appended (a retry after a lost reply), or Redis lost events this store
        still holds (restarted without persistence): append them again, then the batch."""
        if last >= item.events[-1].position:
            return True
        first = item.events[0].position
        tail = [e for e in self._tails.get(item.audit_id, ()) if last < e.position < first]
        if len(tail) != first - 1 - last:
            return False
        logger.warning(
            "audit %s: Redis lost events %d..%d; appending them again",
            item.audit_id,
            last + 1,
            first - 1,
        )
        again = Events(item.audit_id, [*tail, *item.events], None, 0, item.token)
        keys, args = self._append_args(again)
        outcome, _ = await self.client.eval(_APPEND, len(keys), *keys, *args)
        return bool(outcome == "ok")

    async def _recreate(self, audit_id: str) -> bool:
        """The record of an audit this store is still writing is gone (Redis lost it):
        write it again from what this store last wrote, so the audit can go on."""
        held = self._held.get(audit_id)
        if held is None:
            return False
        logger.warning("audit %s: Redis lost its record; writing it again", audit_id)
        created_at = json.loads(held["created_at"])
        pairs = [item for pair in held.items() for item in pair]
        keys = self._create_keys(audit_id)
        lease = self.settings.lease_ms
        args = [audit_id, created_at, lease, held["token"], *pairs]
        await self.client.eval(_CREATE, len(keys), *keys, *args)
        return True

    def _create_keys(self, audit_id: str) -> list[str]:
        record = self.keys.record(audit_id)
        return [record, self.keys.audits, self.keys.unfinished, self.keys.lease(audit_id)]

    def _keep_tail(self, item: Events) -> None:
        if any(event.type in TERMINAL_TYPES for event in item.events):
            self._forget_held(item.audit_id)
            return
        self._tails.setdefault(item.audit_id, []).extend(item.events)

    def _forget_held(self, audit_id: str) -> None:
        self._offered.discard(audit_id)
        self._tails.pop(audit_id, None)
        self._tokens.pop(audit_id, None)
        self._held.pop(audit_id, None)

    def _fail(self, reason: str, batch: Sequence[_Item] = ()) -> None:
        logger.critical("%s; the store accepts no more writes", reason)
        self.failure = reason
        self._queue.stop(reason, batch)


# -- encoding


def _no_script(result: object) -> bool:
    return isinstance(result, NoScriptError)


def _encode_fields(values: dict[str, Any]) -> dict[str, str]:
    """Each field as JSON text (None fields are left out: absent means None)."""
    encoded = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            check_text(value, name)
        encoded[name] = json.dumps(value, separators=(",", ":"), default=json_default)
    return encoded


def decode_record(raw: dict[str, str], *, with_result: bool) -> AuditRecord:
    """The record a hash holds (its fields as JSON; absent fields are None)."""
    values: dict[str, Any] = {name: None for name in _RECORD_FIELDS}
    for name in _RECORD_FIELDS:
        if name in raw and (with_result or name != "result"):
            values[name] = json.loads(raw[name])
    if values["security_modules"] is not None:
        values["security_modules"] = tuple(values["security_modules"])
    return AuditRecord(**values)


def _stored(entry_id: str, values: dict[str, str]) -> StoredEvent:
    return StoredEvent(int(entry_id.partition("-")[0]), values["t"], values["d"])
