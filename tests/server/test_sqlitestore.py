"""SQLiteStore against real SQLite files: round trips, batching, ordering, crashes, retention."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from server.stores.errors import StoreRefused, StoreUnavailable
from server.stores.sqlite import CHECKPOINT_BYTES, SQLiteStore, StoreError, StoreSettings
from server.stores.store import AuditRecord, EventRun, StoredEvent

ROOT = Path(__file__).resolve().parents[2]
SLOW = StoreSettings(batch_interval=60.0, batch_max_events=10_000)  # commits only when asked


def record(audit_id: str, created_at: float, status: str = "complete") -> AuditRecord:
    return AuditRecord(
        id=audit_id,
        url=f"https://{audit_id}.example/",
        tier="quick_scan",
        verdict_mode="simple",
        security_modules=("headers", "tls"),
        ipc="pipe",
        status=status,  # type: ignore[arg-type]
        created_at=created_at,
    )


def event(position: int, type_: str = "log_entry") -> StoredEvent:
    data = json.dumps({"v": 1, "type": type_, "seq": position, "n": "é\u2028 ✓"})
    return StoredEvent(position, type_, data)


def committed_events(path: Path, audit_id: str) -> int:
    """What another process would see in the file right now."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT count(*) FROM events WHERE audit_id = ?", (audit_id,)).fetchone()
    return int(row[0])


async def until(condition: Callable[[], bool]) -> None:
    # Polling: the condition is another connection's view of the file, nothing can notify it.
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "veritas.sqlite3", SLOW)
    await opened.open()
    yield opened
    await opened.close()


async def test_a_record_and_its_events_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "veritas.sqlite3"
    first = SQLiteStore(path)
    await first.open()
    await first.create_audit(record("a1", 100.0, status="running"))
    for position in range(1, 6):
        first.append_event("a1", event(position))
    result = {"trust_score": 87, "risk_level": "low", "findings": [{"id": "f"}]}
    await first.update_audit(
        "a1", status="complete", finished_at=101.5, trust_score=87, risk_level="low", result=result
    )
    await first.close()

    second = SQLiteStore(path)
    await second.open()
    stored = await second.get_audit("a1")
    expected = replace(
        record("a1", 100.0),
        finished_at=101.5,
        trust_score=87,
        risk_level="low",
        result=result,
    )
    assert stored == expected
    assert await second.load_events("a1") == [event(p) for p in range(1, 6)]
    assert await second.load_events("a1", after=3) == [event(4), event(5)]
    assert await second.get_audit("nope") is None
    await second.close()


async def test_append_only_queues_and_flush_commits(store: SQLiteStore) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    for position in range(1, 4):
        store.append_event("a1", event(position))
    assert committed_events(store.path, "a1") == 0
    await store.flush()
    assert committed_events(store.path, "a1") == 3


async def test_a_full_batch_is_committed_without_a_flush(tmp_path: Path) -> None:
    store = SQLiteStore(
        tmp_path / "s.sqlite3", StoreSettings(batch_interval=60, batch_max_events=8)
    )
    batches: list[int] = []
    store = SQLiteStore(store.path, store.settings, on_batch=batches.append)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    for position in range(1, 9):
        store.append_event("a1", event(position))
    # The writer reports a batch after its commit: wait for the report, not for the file.
    await until(lambda: sum(batches) == 8)
    assert batches == [8]
    assert committed_events(store.path, "a1") == 8
    await store.close()


async def test_events_wait_at_most_the_batch_interval(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", StoreSettings(batch_interval=0.02))
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_event("a1", event(1))
    await until(lambda: committed_events(store.path, "a1") == 1)
    await store.close()


async def test_a_record_update_commits_the_events_appended_before_it(store: SQLiteStore) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_event("a1", event(1))
    store.append_event("a1", event(2, "audit_complete"))
    await store.update_audit("a1", status="complete")
    assert committed_events(store.path, "a1") == 2


async def test_close_commits_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path, SLOW)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_event("a1", event(1))
    await store.close()
    assert committed_events(path, "a1") == 1


async def test_list_is_newest_first_paged_filtered_and_without_results(store: SQLiteStore) -> None:
    for index in range(5):
        status = "running" if index == 2 else "complete"
        await store.create_audit(record(f"a{index}", float(index), status=status))
    await store.update_audit("a4", result={"trust_score": 1})
    listed = await store.list_audits(status=None, limit=10, before=None)
    assert [r.id for r in listed] == ["a4", "a3", "a2", "a1", "a0"]
    assert all(r.result is None for r in listed)
    page = await store.list_audits(status=None, limit=2, before="a3")
    assert [r.id for r in page] == ["a2", "a1"]
    done = await store.list_audits(status="complete", limit=10, before=None)
    assert [r.id for r in done] == ["a4", "a3", "a1", "a0"]
    assert (await store.get_audit("a4")) is not None


async def test_unfinished_lists_queued_and_running_audits_only(store: SQLiteStore) -> None:
    for audit_id, status in [("q", "queued"), ("r", "running"), ("c", "complete"), ("e", "error")]:
        await store.create_audit(record(audit_id, time.time(), status=status))
    assert sorted(r.id for r in await store.unfinished()) == ["q", "r"]


async def test_update_refuses_unknown_fields(store: SQLiteStore) -> None:
    await store.create_audit(record("a1", 1.0))
    with pytest.raises(TypeError):
        await store.update_audit("a1", colour="red")
    with pytest.raises(TypeError):
        await store.update_audit("a1", id="other")


async def test_a_duplicate_audit_id_is_a_store_error(store: SQLiteStore) -> None:
    await store.create_audit(record("a1", 1.0))
    with pytest.raises(StoreError):
        await store.create_audit(record("a1", 2.0))
    assert (await store.get_audit("a1")) == record("a1", 1.0)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])  # NORMAL: with a checkpointer
async def test_flushed_events_survive_sigkill_of_the_process(
    tmp_path: Path, synchronous: str
) -> None:
    path = tmp_path / "s.sqlite3"
    script = textwrap.dedent(
        f"""
        import asyncio, json, os, sys
        from server.stores.sqlite import SQLiteStore, StoreSettings
        from server.stores.store import AuditRecord, EventRun, StoredEvent

        async def main():
            settings = StoreSettings(batch_interval=60, batch_max_events=10**6,
                                     synchronous={synchronous!r}, checkpoint_interval=0)
            store = SQLiteStore({str(path)!r}, settings)
            await store.open()
            await store.create_audit(AuditRecord("a1", "https://x/", "quick_scan", "simple",
                                                 None, "pipe", "running", 1.0))
            for position in range(1, 101):
                store.append_event("a1", StoredEvent(position, "log_entry", json.dumps(position)))
            await store.flush()
            for position in range(101, 151):
                store.append_event("a1", StoredEvent(position, "log_entry", json.dumps(position)))
            print("flushed", flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert await child.stdout.readline() == b"flushed\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    store = SQLiteStore(path)
    await store.open()
    events = await store.load_events("a1")
    # Exactly what was flushed: the 50 events appended after it were never committed.
    assert [e.position for e in events] == list(range(1, 101))
    assert [r.id for r in await store.unfinished()] == ["a1"]
    await store.close()


async def test_prune_by_count_deletes_the_oldest_finished_only(store: SQLiteStore) -> None:
    await store.create_audit(record("old-running", 1.0, status="running"))
    for index in range(2, 8):
        await store.create_audit(record(f"a{index}", float(index)))
        store.append_event(f"a{index}", event(1))
    deleted = await store.prune(max_audits=3, max_age_seconds=None, protect={"a2"})
    # Seven audits, three allowed: the four oldest deletable ones go, skipping the
    # running audit and the protected one.
    assert deleted == ["a3", "a4", "a5", "a6"]
    remaining = await store.list_audits(status=None, limit=100, before=None)
    assert [r.id for r in remaining] == ["a7", "a2", "old-running"]
    assert committed_events(store.path, "a3") == 0
    assert committed_events(store.path, "a7") == 1


async def test_prune_by_age_keeps_recent_and_unfinished_audits(store: SQLiteStore) -> None:
    now = 10_000.0
    await store.create_audit(record("ancient-queued", now - 5000, status="queued"))
    await store.create_audit(record("ancient", now - 5000))
    await store.create_audit(record("old-error", now - 2000, status="error"))
    await store.create_audit(record("recent", now - 10))
    deleted = await store.prune(max_audits=None, max_age_seconds=1000, now=now)
    assert deleted == ["ancient", "old-error"]
    assert await store.prune(max_audits=1, max_age_seconds=None, now=now) == ["recent"]
    remaining = await store.list_audits(status=None, limit=100, before=None)
    assert [r.id for r in remaining] == ["ancient-queued"]


async def test_prune_without_limits_deletes_nothing(store: SQLiteStore) -> None:
    await store.create_audit(record("a1", 1.0))
    assert await store.prune(max_audits=None, max_age_seconds=None) == []


async def test_past_the_backlog_bound_events_are_dropped_but_terminals_kept(
    tmp_path: Path,
) -> None:
    settings = StoreSettings(batch_interval=60, batch_max_events=10_000, max_pending_bytes=200)
    store = SQLiteStore(tmp_path / "s.sqlite3", settings)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    for position in range(1, 21):
        store.append_event("a1", event(position))
    store.append_event("a1", event(21, "audit_complete"))
    await store.flush()
    kept = [e.position for e in await store.load_events("a1")]
    assert kept[-1] == 21
    assert 0 < len(kept) < 21
    assert store.dropped_events == 21 - len(kept)
    await store.close()


async def test_text_sqlite_cannot_store_is_refused_and_the_store_goes_on(
    store: SQLiteStore,
) -> None:
    with pytest.raises(StoreRefused, match="url"):
        await store.create_audit(replace(record("a1", 1.0), url="http://h/?\ud800"))
    with pytest.raises(StoreRefused, match="event data"):
        store.append_events("a1", [StoredEvent(1, "log_entry", '"\udc80"')])
    await store.create_audit(record("a2", 2.0))
    with pytest.raises(StoreRefused, match="error"):
        await store.update_audit("a2", error="\ud800 lone")
    assert store.failure is None
    assert [r.id for r in await store.list_audits(status=None, limit=5, before=None)] == ["a2"]


async def test_a_failed_commit_stops_the_store_loudly(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", replace(SLOW, busy_timeout=0.05))
    await store.open()
    with sqlite3.connect(store.path, isolation_level=None) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable):
            await store.create_audit(record("a1", 1.0))
        other.execute("ROLLBACK")
    assert store.failure is not None and "locked" in store.failure
    with pytest.raises(StoreUnavailable):
        store.append_event("a1", event(1))
    with pytest.raises(StoreUnavailable):
        await store.flush()
    await store.close()


async def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        await SQLiteStore(path).open()


async def test_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError):
        await SQLiteStore(blocker / "s.sqlite3").open()


async def test_the_file_is_in_wal_mode(store: SQLiteStore) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_transaction_holds_at_most_batch_max_events(tmp_path: Path) -> None:
    batches: list[int] = []
    settings = StoreSettings(batch_interval=60, batch_max_events=8)
    store = SQLiteStore(tmp_path / "s.sqlite3", settings, on_batch=batches.append)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    for position in range(1, 21):
        store.append_event("a1", event(position))
    await store.flush()
    assert batches == [8, 8, 4]
    assert [e.position for e in await store.load_events("a1")] == list(range(1, 21))
    await store.close()


def in_the_file_itself(path: Path) -> int:
    """Events the database file holds, ignoring its WAL (as if the WAL were lost); -1 while
    a checkpoint is writing it (such a reader takes no lock, so it can see half a write)."""
    try:
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1


async def in_the_file(path: Path, count: int) -> None:
    await until(lambda: in_the_file_itself(path) == count)


async def test_with_normal_commits_reach_the_file_itself_by_checkpoints_off_the_writers_path(
    tmp_path: Path,
) -> None:
    settings = StoreSettings(synchronous="NORMAL", checkpoint_interval=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", settings)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    for position in range(1, 6):
        store.append_event("a1", event(position))
        await store.flush()
        # The writer's own checkpoint waits for 64 MiB of WAL: another copies each commit.
        await in_the_file(store.path, position)
    assert store.checkpoints >= 5
    await store.close()


async def write_16_mib(store: SQLiteStore, after_commit: Callable[[int], Awaitable[None]]) -> None:
    """4,000 events of 4 KB in commits of 40; `after_commit(last position)` after each."""
    await store.create_audit(record("a1", 1.0, status="running"))
    text = "x" * 4000
    for first in range(1, 4001, 40):
        runs = [
            StoredEvent(p, "log_entry", f'{{"n":{p},"t":"{text}"}}')
            for p in range(first, first + 40)
        ]
        store.append_events("a1", runs)
        await store.flush()
        await after_commit(first + 39)


async def test_with_normal_the_wal_stays_small_while_checkpoints_keep_up(tmp_path: Path) -> None:
    settings = StoreSettings(synchronous="NORMAL", checkpoint_interval=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", settings)
    await store.open()
    await write_16_mib(store, lambda last: in_the_file(store.path, last))
    # Each commit starts the WAL over once the one before it is in the file.
    assert (tmp_path / "s.sqlite3-wal").stat().st_size < 2 * 1024 * 1024
    assert len(await store.load_events("a1")) == 4000
    await store.close()


async def test_with_full_the_writer_checkpoints_every_few_mebibytes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", StoreSettings(synchronous="FULL"))
    await store.open()
    sizes: list[int] = []

    async def note_wal_size(last: int) -> None:
        sizes.append((tmp_path / "s.sqlite3-wal").stat().st_size)

    await write_16_mib(store, note_wal_size)
    assert max(sizes) <= CHECKPOINT_BYTES + 1024 * 1024
    assert in_the_file_itself(store.path) >= 4000 - CHECKPOINT_BYTES // 4000
    assert store.checkpoints == 0  # no second thread: the commits flushed the WAL already
    await store.close()


# -- events kept a run at a time (schema 2)

VERSION_1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE audits (id TEXT PRIMARY KEY, url TEXT NOT NULL, tier TEXT NOT NULL,
    verdict_mode TEXT NOT NULL, security_modules TEXT, ipc TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    trust_score INTEGER, risk_level TEXT, error_code TEXT, error TEXT, result TEXT);
CREATE INDEX audits_by_creation ON audits (created_at, id);
CREATE INDEX audits_by_status ON audits (status);
CREATE TABLE events (audit_id TEXT NOT NULL, position INTEGER NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (audit_id, position)) WITHOUT ROWID;
"""


async def test_a_version_1_file_is_migrated_with_every_event_byte_for_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old = [event(p) for p in range(1, 6)] + [event(6, "audit_complete")]
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
        db.executemany(
            "INSERT INTO events VALUES ('a1', ?, ?, ?)", [(e.position, e.type, e.data) for e in old]
        )
    store = SQLiteStore(path, SLOW)
    await store.open()
    try:
        assert await store.load_events("a1") == old
        assert await store.load_events("a1", after=4) == old[4:]
        store.append_events("a1", [event(7)])
        await store.flush()
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        rows = db.execute("SELECT position, type, data FROM events ORDER BY position").fetchall()
    assert rows == [(e.position, e.type, e.data) for e in [*old, event(7)]]


async def test_a_run_is_one_row_and_reads_back_from_any_position(store: SQLiteStore) -> None:
    datas = ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":"\\u00e9"}']
    run = EventRun(1, ["log_entry"] * 4, datas, ascii=True)
    store.append_events("a1", run)
    store.append_events("a1", [event(5), event(6)])
    await store.flush()
    assert await store.load_events("a1") == [*run, event(5), event(6)]
    assert await store.load_events("a1", after=2) == [run[2], run[3], event(5), event(6)]
    assert await store.load_events("a1", after=6) == []
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM event_runs").fetchone()[0] == 2
        by_hand = db.execute("SELECT position, type, data FROM events ORDER BY position")
        assert by_hand.fetchall() == [
            (e.position, e.type, e.data) for e in [*run, event(5), event(6)]
        ]


async def test_a_position_stored_twice_stops_the_store(store: SQLiteStore) -> None:
    # The log never does this; if anything ever did, an id would name two events.
    store.append_events("a1", EventRun(1, ["log_entry"] * 3, ["1", "2", "3"], ascii=True))
    await store.flush()
    store.append_events("a1", [event(3)])  # inside the stored run, not at its start
    with pytest.raises(StoreUnavailable):
        await store.flush()
    assert store.failure is not None and "already stored" in store.failure
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT position, data FROM events ORDER BY position").fetchall()
    assert rows == [(1, "1"), (2, "2"), (3, "3")]
