"""The durable `Store`: audits and every event in one SQLite file (WAL), written in batches.

The event loop never runs a SQLite call: every statement runs on one dedicated thread
that owns the connection, so reads and writes are ordered exactly as they were issued.

Writes form one ordered pipeline (`WriteQueue`, shared with the Redis store).
`append_events` only queues a batch of entries in memory; a writer task commits whatever
is queued as one transaction (group commit): it
starts as soon as there is work (after `batch_interval` seconds, when set, to gather
more), and what is queued during a commit forms the next one. After each commit the
batches' listeners (the audit logs) are told, in order, and only then do subscribers see
those events: whatever a client saw is on disk. An awaited write (`create_audit`,
`update_audit`, `prune`) joins the same pipeline, in a savepoint of its own, so a record
change is never committed ahead of the events appended before it, and its own failure (a
duplicate id) is its caller's error alone.

Anything else that fails in a commit stops the store (fail-stop): the positions of the
lost batch were promised to live logs, so writing later events after them would break
the promise that an id always names the same event. `failure` then says why, every
waiter and listener is told, and every later write raises `StoreUnavailable`; the
service reports it on /healthz and refuses new audits with 503. Text that SQLite cannot
store (lone surrogates) is refused before it is queued (`StoreRefused`), so no request
or event can stop the writer.

The queue is bounded by `max_pending_bytes`. Past the bound (the disk has stalled for a
long time) batches of non-terminal events are refused (`append_events` returns False):
their log counts them as dropped and never shows them; terminal events are always kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from itertools import accumulate
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

from protocol.events import TERMINAL_TYPES
from server.stores.batching import Events, WriteQueue
from server.stores.checkpoint import Checkpointer
from server.stores.encoding import check_text, json_default
from server.stores.errors import StoreError, StoreUnavailable
from server.stores.store import (
    FINISHED,
    AuditRecord,
    AuditStatus,
    CommitListener,
    EventRun,
    StoredEvent,
)

SCHEMA_VERSION: Final = 2
PAGE_SIZE: Final = 16384
# A checkpoint copies the WAL into the file; the writer's own runs in the commit that
# passes a size, and that commit's events wait for it. With synchronous=FULL each commit
# has flushed its WAL pages already, so that checkpoint only copies them and flushes the
# file: it stays on the writer's path, every 4 MiB (SQLite's default in bytes, 1,000 pages
# of 4 KiB), where a second thread's flushes would contend with the commits' own (p99
# 1.63-2.08 ms against 1.82-2.71 with one, in bench.latency). With NORMAL it would flush
# the whole WAL (p99 5.4-5.7 ms): a `Checkpointer` does that off the writer's path (p99
# 1.7-2.4 ms), and the writer's checkpoint at the backstop size bounds the WAL if the
# checkpointer falls behind (during a flood, when commits keep adding pages) or fails.
CHECKPOINT_BYTES: Final = 4 * 1024 * 1024
BACKSTOP_BYTES: Final = 64 * 1024 * 1024
_COLUMNS: Final = tuple(f.name for f in fields(AuditRecord))  # the order of SELECT results
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM audits"
_RECORD_FIELDS: Final = frozenset(_COLUMNS)
_T = TypeVar("_T")

logger = logging.getLogger("server.stores.store")

_RUNS_SCHEMA: Final = """
-- Events are kept a run at a time (the events of one append, at consecutive positions):
-- one row per run, not per event, since a row costs SQLite more than its bytes do. A rowid
-- table with an index, not WITHOUT ROWID: its rows are large (a read's worth of text).
CREATE TABLE event_runs (
    audit_id TEXT NOT NULL,
    first INTEGER NOT NULL,  -- the position (SSE id) of the run's first event
    last INTEGER NOT NULL,
    types TEXT NOT NULL,  -- a JSON array: each event's type
    ends TEXT NOT NULL,  -- a JSON array: where each event's text ends in `datas`
    datas TEXT NOT NULL  -- the events' SSE data texts, exactly, one after the other
);
CREATE UNIQUE INDEX event_runs_by_audit ON event_runs (audit_id, first);
-- A position is stored once, ever: a run that overlaps a stored one is refused.
CREATE TRIGGER event_runs_never_overlap BEFORE INSERT ON event_runs
WHEN (
    SELECT last FROM event_runs WHERE audit_id = NEW.audit_id AND first <= NEW.last
    ORDER BY first DESC LIMIT 1
) >= NEW.first
BEGIN SELECT RAISE(ABORT, 'event positions already stored'); END;
-- One row per event, for reading by hand (sqlite3 veritas.sqlite3 'SELECT ... FROM events').
CREATE VIEW events (audit_id, position, type, data) AS
SELECT audit_id, first + key, type, substr(datas, start + 1, stop - start) FROM (
    SELECT r.audit_id, r.first, t.key, t.value AS type, r.datas,
        json_extract(r.ends, '$[' || t.key || ']') AS stop,
        CASE t.key WHEN 0 THEN 0 ELSE json_extract(r.ends, '$[' || (t.key - 1) || ']') END
            AS start
    FROM event_runs AS r, json_each(r.types) AS t
);
"""

_SCHEMA: Final = (
    _RUNS_SCHEMA
    + """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE audits (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    tier TEXT NOT NULL,
    verdict_mode TEXT NOT NULL,
    security_modules TEXT,
    ipc TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    trust_score INTEGER,
    risk_level TEXT,
    error_code TEXT,
    error TEXT,
    result TEXT
);
CREATE INDEX audits_by_creation ON audits (created_at, id);
CREATE INDEX audits_by_status ON audits (status);
"""
)

# Version 1 kept a row per event in the table `events`; its rows become runs of one.
_MIGRATIONS: Final = {
    1: """
ALTER TABLE events RENAME TO events_v1;
"""
    + _RUNS_SCHEMA
    + """
INSERT INTO event_runs
SELECT audit_id, position, position, json_array(type), json_array(length(data)), data
FROM events_v1;
DROP TABLE events_v1;
""",
}


@dataclass(frozen=True, slots=True)
class StoreSettings:
    batch_interval: float = 0.0  # seconds the writer waits to gather a batch; 0: at once
    batch_max_events: int = 512  # about the most events one transaction holds
    max_pending_bytes: int = 64 * 1024 * 1024  # queued, uncommitted event data
    synchronous: str = "FULL"  # SQLite's fsync policy; NORMAL survives SIGKILL, not power loss
    checkpoint_interval: float = 0.2  # NORMAL: seconds between two checkpoints, at the least
    busy_timeout: float = 5.0


@dataclass(slots=True)
class _Write:
    """An awaited write in the pipeline: a function of the connection and its caller's future."""

    run: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


_Item = Events | _Write


class SQLiteStore:
    """A `Store` in one SQLite file; open with `await open()`, release with `await close()`."""

    def __init__(
        self,
        path: Path | str,
        settings: StoreSettings | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings or StoreSettings()
        self.dropped_events = 0
        self.failure: str | None = None
        self._on_batch = on_batch
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._checkpointer: Checkpointer | None = None
        self._queue: WriteQueue[_Write] = WriteQueue(
            self.settings.batch_max_events, self.settings.max_pending_bytes
        )

    @property
    def checkpoints(self) -> int:
        """Checkpoints completed off the writer's path since `open()` (NORMAL only)."""
        return 0 if self._checkpointer is None else self._checkpointer.checkpoints

    # -- lifecycle

    async def open(self) -> None:
        if self._executor is not None:
            raise RuntimeError("the store is already open")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veritas-store")
        try:
            await self._run(self._connect)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise
        if checkpoints_apart(self.settings):
            checkpointer = Checkpointer(
                self.path,
                interval=self.settings.checkpoint_interval,
                synchronous=self.settings.synchronous.upper(),
                busy_timeout=self.settings.busy_timeout,
            )
            try:
                await checkpointer.open()
            except BaseException:
                await self._run(self._disconnect)
                self._executor.shutdown(wait=True)
                self._executor = None
                raise
            self._checkpointer = checkpointer
        loop = self._queue.run(self._write_batch, self.settings.batch_interval, self._writer_failed)
        self._writer = asyncio.create_task(loop, name="veritas-store-writer")

    async def close(self) -> None:
        """Commit everything queued, stop the writer, close the file."""
        if self._executor is None:
            return
        self._queue.close()
        if self._writer is not None:
            await self._writer  # it drains the queue before it returns
        if self._checkpointer is not None:
            await self._checkpointer.close()  # the writer's connection closes last
        try:
            await self._run(self._disconnect)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- writes

    async def create_audit(self, record: AuditRecord) -> None:
        row = _record_row(record)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO audits ({columns}) VALUES ({marks})"
        await self._write(lambda db: db.execute(sql, tuple(row.values())))

    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        unknown = set(changes) - (_RECORD_FIELDS - {"id"})
        if unknown:
            raise TypeError(f"update_audit cannot set {sorted(unknown)}")
        if not changes:
            return
        row = _record_row(changes)
        assignments = ", ".join(f"{column} = ?" for column in row)
        sql = f"UPDATE audits SET {assignments} WHERE id = ?"
        await self._write(lambda db: db.execute(sql, (*row.values(), audit_id)))

    def append_events(
        self,
        audit_id: str,
        events: Sequence[StoredEvent],
        listener: CommitListener | None = None,
    ) -> bool:
        self._check_working()
        if self._queue.closing or self._executor is None:
            # Late appends during shutdown (a worker's last words) must not crash the log.
            self._drop(audit_id, events)
            return False
        if isinstance(events, EventRun):  # a log's run: no step per event
            datas, types = events.datas, events.types
        else:
            datas, types = [e.data for e in events], [e.type for e in events]
        if not (isinstance(events, EventRun) and events.ascii):
            for data in datas:
                check_text(data, "event data")
        size = sum(map(len, datas))
        if self._queue.over(size) and TERMINAL_TYPES.isdisjoint(types):
            self._drop(audit_id, events)
            return False
        self._queue.put(Events(audit_id, events, listener, size))
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
        protect: Iterable[str] = (),
        now: float | None = None,
    ) -> list[str]:
        """Delete finished audits older than the age limit, then the oldest finished ones
        until at most `max_audits` remain.

        Audits not finished, and the ids in `protect`, are never deleted (they still count
        toward `max_audits`). Returns the ids deleted, oldest first.
        """
        cutoff = None if max_age_seconds is None else (now or time.time()) - max_age_seconds
        protected = frozenset(protect)
        return await self._write(lambda db: _prune(db, max_audits, cutoff, protected))

    # -- reads

    async def get_audit(self, audit_id: str) -> AuditRecord | None:
        def read(db: sqlite3.Connection) -> AuditRecord | None:
            row = db.execute(f"{_SELECT} WHERE id = ?", (audit_id,)).fetchone()
            return None if row is None else _record(row, with_result=True)

        return await self._call(read)

    async def list_audits(
        self, *, status: AuditStatus | None, limit: int, before: str | None
    ) -> Sequence[AuditRecord]:
        def read(db: sqlite3.Connection) -> list[AuditRecord]:
            where, args = _listing_filter(db, status, before)
            sql = f"{_SELECT} {where} ORDER BY created_at DESC, id DESC LIMIT ?"
            rows = db.execute(sql, (*args, limit)).fetchall()
            return [_record(row, with_result=False) for row in rows]

        return await self._call(read)

    async def load_events(self, audit_id: str, after: int = 0) -> Sequence[StoredEvent]:
        def read(db: sqlite3.Connection) -> list[StoredEvent]:
            rows = db.execute(
                "SELECT first, types, ends, datas FROM event_runs"
                " WHERE audit_id = ? AND last > ? ORDER BY first",
                (audit_id, after),
            ).fetchall()
            return _stored_events(rows, after)

        return await self._call(read)

    async def unfinished(self) -> Sequence[AuditRecord]:
        def read(db: sqlite3.Connection) -> list[AuditRecord]:
            marks = ", ".join("?" for _ in FINISHED)
            rows = db.execute(
                f"{_SELECT} WHERE status NOT IN ({marks}) ORDER BY created_at, id",
                tuple(FINISHED),
            ).fetchall()
            return [_record(row, with_result=True) for row in rows]

        return await self._call(read)

    # -- the thread and the pipeline

    async def _call(self, function: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a read on the store's thread, with its connection."""
        return await self._run(lambda: self._on_thread(function))

    async def _run(self, function: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function)

    def _on_thread(self, function: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._connection is None:
            raise RuntimeError("the store has no connection")
        try:
            return function(self._connection)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _check_working(self) -> None:
        if self.failure is not None:
            raise StoreUnavailable(self.failure)

    async def _write(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        self._check_working()
        if self._queue.closing or self._executor is None:
            raise RuntimeError("write to a store that is not open")
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Write(run, future))
        return await future

    def _drop(self, audit_id: str, events: Sequence[StoredEvent]) -> None:
        self.dropped_events += len(events)
        logger.warning(
            "%d events from position %d not persisted: the store is closed or its backlog is full",
            len(events),
            events[0].position if events else 0,
            extra={"audit_id": audit_id},
        )

    async def _write_batch(self, batch: list[_Item]) -> None:
        """The queue's `commit`: one transaction on the store's thread, then its items settled."""
        loop = asyncio.get_running_loop()
        # Shielded: once handed to the thread the batch is written, and its waiters told.
        outcome = await asyncio.shield(loop.run_in_executor(self._executor, self._commit, batch))
        if isinstance(outcome, BaseException):
            self._fail(f"a commit of {len(batch)} writes failed: {outcome}", batch)
            return
        events = sum(len(item.events) for item in batch if isinstance(item, Events))
        if events and self._on_batch is not None:
            self._on_batch(events)
        self._settle(batch, outcome)
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _commit(self, batch: list[_Item]) -> list[Any] | BaseException:
        """On the store's thread: one transaction for the batch; each write's result or
        own error, in order; or the error that stopped the whole batch."""
        db = self._connection
        if db is None:
            return StoreError("the store has no connection")
        results: list[Any] = []
        try:
            with db:
                rows: list[_RunRow] = []
                for item in batch:
                    if isinstance(item, _Write):
                        _insert_events(db, rows)
                        results.append(_in_savepoint(db, item.run, self.path))
                    elif item.events:
                        rows += _runs(item.audit_id, item.events)
                _insert_events(db, rows)
        except Exception as exc:
            return exc
        return results

    def _settle(self, batch: list[_Item], outcome: list[Any]) -> None:
        results = iter(outcome)
        for item in batch:
            if isinstance(item, Events):
                if item.listener is not None and item.events:
                    item.listener.committed(item.events[-1].position)
                continue
            result = next(results)
            if item.future.done():
                continue
            if isinstance(result, StoreError):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _writer_failed(self, exc: Exception) -> None:
        self._fail(f"the store's writer failed: {exc!r}")  # fail-stop: see the docstring

    def _fail(self, reason: str, batch: Sequence[_Item] = ()) -> None:
        """Stop: nothing queued or in `batch` will be written; everyone waiting is told.
        The writer then ends; close() only releases the file."""
        logger.critical("%s; the store accepts no more writes", reason)
        self.failure = reason
        self._queue.stop(reason, batch)

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=self.settings.busy_timeout, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        try:
            _prepare(db, self.settings)
        except (sqlite3.Error, StoreError) as exc:
            db.close()
            raise StoreError(f"cannot use the store {self.path}: {exc}") from exc
        # Transactions are opened explicitly from here on (`with db:` per batch).
        db.isolation_level = "DEFERRED"
        self._connection = db

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def checkpoints_apart(settings: StoreSettings) -> bool:
    """Whether a `Checkpointer` copies the WAL, rather than the writer's own commits."""
    return settings.synchronous.upper() == "NORMAL"


# -- SQL helpers, all run on the store's thread


def _prepare(db: sqlite3.Connection, settings: StoreSettings) -> None:
    if settings.synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise StoreError(f"unknown synchronous mode {settings.synchronous!r}")
    # Both only take effect on a new file. Larger pages: a run's row spans fewer of them.
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"the file system does not support WAL (journal mode {mode})")
    db.execute(f"PRAGMA synchronous = {settings.synchronous.upper()}")
    checkpoint = BACKSTOP_BYTES if checkpoints_apart(settings) else CHECKPOINT_BYTES
    db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint // PAGE_SIZE}")
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        db.executescript(
            f"BEGIN; {_SCHEMA} INSERT INTO schema_version VALUES ({SCHEMA_VERSION}); COMMIT;"
        )
        return
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    found = None if row is None else row[0]
    if found in _MIGRATIONS:
        db.executescript(
            f"BEGIN; {_MIGRATIONS[found]} UPDATE schema_version SET version = {SCHEMA_VERSION};"
            " COMMIT;"
        )
    elif found != SCHEMA_VERSION:
        raise StoreError(f"schema version {found}, this server reads {SCHEMA_VERSION}")


def _in_savepoint(
    db: sqlite3.Connection, run: Callable[[sqlite3.Connection], Any], path: Path
) -> Any:
    """One awaited write inside the batch: a constraint it breaks (a duplicate id) is its own
    failure, rolled back and returned to its caller, and the batch goes on; any other error
    (locked, I/O) fails the batch."""
    db.execute("SAVEPOINT write")
    try:
        result = run(db)
    except sqlite3.IntegrityError as exc:
        db.execute("ROLLBACK TO write")
        db.execute("RELEASE write")
        return StoreError(f"{path}: {exc}")
    db.execute("RELEASE write")
    return result


_RunRow = tuple[str, int, int, str, str, str]  # a row of event_runs


def _insert_events(db: sqlite3.Connection, runs: list[_RunRow]) -> None:
    if runs:
        db.executemany(
            "INSERT INTO event_runs (audit_id, first, last, types, ends, datas)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            runs,
        )
        runs.clear()


def _runs(audit_id: str, events: Sequence[StoredEvent]) -> list[_RunRow]:
    """The rows of `event_runs` for `events`: a log's `EventRun` as it is, anything else
    cut where its positions stop being consecutive."""
    if isinstance(events, EventRun):
        return [_run_row(audit_id, events.first, events.types, events.datas)]
    rows = []
    start = 0
    for end in range(1, len(events) + 1):
        if end == len(events) or events[end].position != events[end - 1].position + 1:
            part = events[start:end]
            types, datas = [e.type for e in part], [e.data for e in part]
            rows.append(_run_row(audit_id, part[0].position, types, datas))
            start = end
    return rows


def _run_row(audit_id: str, first: int, types: list[str], datas: list[str]) -> _RunRow:
    # The texts joined as they are (escaping them into a JSON array cost the writer more
    # than anything else it did per event), and where each one ends.
    ends = orjson.dumps(list(accumulate(map(len, datas)))).decode()
    kinds = orjson.dumps(types).decode()
    return (audit_id, first, first + len(datas) - 1, kinds, ends, "".join(datas))


def _stored_events(rows: Iterable[tuple[int, str, str, str]], after: int) -> list[StoredEvent]:
    """The events of `event_runs` rows (first, types, ends, datas) after position `after`."""
    events: list[StoredEvent] = []
    for first, types, ends, datas in rows:
        stops: list[int] = orjson.loads(ends)
        texts = [datas[start:stop] for start, stop in zip([0, *stops], stops, strict=False)]
        run = EventRun(first, orjson.loads(types), texts, ascii=False)
        events += run[max(after - first + 1, 0) :]
    return events


def _prune(
    db: sqlite3.Connection, max_audits: int | None, cutoff: float | None, protect: frozenset[str]
) -> list[str]:
    finished = tuple(FINISHED)
    marks = ", ".join("?" for _ in finished)
    rows = db.execute(
        f"SELECT id, created_at FROM audits WHERE status IN ({marks}) ORDER BY created_at, id",
        finished,
    ).fetchall()
    candidates = [row for row in rows if row[0] not in protect]  # oldest first
    doomed = [row[0] for row in candidates if cutoff is not None and row[1] < cutoff]
    if max_audits is not None:
        total = db.execute("SELECT count(*) FROM audits").fetchone()[0]
        excess = total - len(doomed) - max_audits
        doomed += [row[0] for row in candidates if row[0] not in doomed][: max(excess, 0)]
    for audit_id in doomed:
        db.execute("DELETE FROM event_runs WHERE audit_id = ?", (audit_id,))
        db.execute("DELETE FROM audits WHERE id = ?", (audit_id,))
    if doomed:
        db.execute("PRAGMA incremental_vacuum")
    return doomed


def _listing_filter(
    db: sqlite3.Connection, status: str | None, before: str | None
) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    args: list[Any] = []
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    cursor = None
    if before is not None:
        cursor = db.execute("SELECT created_at, id FROM audits WHERE id = ?", (before,)).fetchone()
    if cursor is not None:
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args += [cursor[0], cursor[0], cursor[1]]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)


def _record_row(values: AuditRecord | dict[str, Any]) -> dict[str, Any]:
    """Column values for a record (or for some of its fields)."""
    if isinstance(values, AuditRecord):
        values = {name: getattr(values, name) for name in _COLUMNS}
    row = dict(values)
    for name, value in row.items():
        if isinstance(value, str):
            check_text(value, name)
    if "security_modules" in row and row["security_modules"] is not None:
        row["security_modules"] = json.dumps(list(row["security_modules"]))
    if "result" in row and row["result"] is not None:
        row["result"] = json.dumps(row["result"], separators=(",", ":"), default=json_default)
    return row


def _record(row: sqlite3.Row | tuple[Any, ...], *, with_result: bool) -> AuditRecord:
    (
        id_,
        url,
        tier,
        verdict_mode,
        modules,
        ipc,
        status,
        created_at,
        started_at,
        finished_at,
        trust_score,
        risk_level,
        error_code,
        error,
        result,
    ) = row
    return AuditRecord(
        id=id_,
        url=url,
        tier=tier,
        verdict_mode=verdict_mode,
        security_modules=None if modules is None else tuple(json.loads(modules)),
        ipc=ipc,
        status=status,
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        trust_score=trust_score,
        risk_level=risk_level,
        error_code=error_code,
        error=error,
        result=json.loads(result) if with_result and result is not None else None,
    )
