"""The per-audit event log: positions, bytes encoded once, wake-ups, limits, the stored replay."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.events import Event, new_event
from protocol.jsonlines import to_json
from protocol.sse import encode_event, encode_message
from server.stores.errors import StoreUnavailable
from server.stores.memory import MemoryStore
from server.stores.sqlite import SQLiteStore, StoreSettings
from server.stores.store import AuditRecord, StoredEvent
from server.streaming.log import AuditLog, LogLimits

LIMITS = LogLimits(max_events=1000, max_bytes=1 << 20)


def entry(seq: int, message: str = "hello") -> Event:
    # A fixed time stamp: entries of one message then have one size, whatever the clock says.
    return new_event(
        "log_entry", seq, ts=1_700_000_000.5, agent="test", level="info", message=message
    )


def terminal() -> Event:
    return new_event("audit_complete", 0, elapsed=1.0)


async def test_positions_start_at_one_and_the_bytes_are_the_sse_encoding() -> None:
    log = AuditLog("a", LIMITS)
    events = [entry(1), entry(2), terminal()]
    assert [log.append(e) for e in events[:2]] == [1, 2]
    assert await log.finish(events[2]) == 3
    data, end = log.read(0, 1 << 20)
    assert end == 3
    assert data == b"".join(encode_event(i, e) for i, e in enumerate(events, 1))
    assert log.read(1, 1 << 20) == (encode_event(2, events[1]) + encode_event(3, events[2]), 3)
    assert log.read(3, 1 << 20) == (b"", 3)


def test_reads_are_batched_by_size_but_always_make_progress() -> None:
    log = AuditLog("a", LIMITS)
    for seq in range(1, 11):
        log.append(entry(seq, "x" * 100))
    one = len(log.read(0, 1)[0])
    assert log.read(0, 1)[1] == 1  # a single entry larger than the batch still goes out
    assert log.read(0, one * 3)[1] == 3
    assert log.read(0, one * 3 + 1)[1] == 3


async def test_the_log_closes_at_the_terminal_event_and_refuses_more() -> None:
    log = AuditLog("a", LIMITS)
    log.append(entry(1))
    assert not log.closed
    with pytest.raises(TypeError, match="finish"):
        log.append(terminal())
    assert await log.finish(terminal()) == 2
    assert log.closed
    with pytest.raises(RuntimeError):
        log.append(entry(2))
    with pytest.raises(RuntimeError):
        await log.finish(terminal())


async def test_waiters_wake_on_append_and_on_close() -> None:
    log = AuditLog("a", LIMITS)
    waiters = [asyncio.create_task(log.wait(0)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    log.append(entry(1))
    await asyncio.wait_for(asyncio.gather(*waiters), 5)
    beyond = asyncio.create_task(log.wait(1))
    await asyncio.sleep(0)
    assert not beyond.done()
    await log.finish(terminal())
    await asyncio.wait_for(beyond, 5)


async def test_a_full_log_drops_worker_events_but_keeps_the_terminal_one() -> None:
    log = AuditLog("a", LogLimits(max_events=3, max_bytes=1 << 20))
    assert log.append(entry(1)) == 1
    assert log.append(entry(2)) == 2
    assert log.append(entry(3)) is None
    assert log.dropped == 1
    assert await log.finish(terminal()) == 3
    assert log.closed


async def test_the_byte_limit_drops_too() -> None:
    log = AuditLog("a", LogLimits(max_events=100, max_bytes=500))
    assert log.append(entry(1, "x" * 300)) == 1
    assert log.append(entry(2, "x" * 300)) is None
    assert await log.finish(terminal()) == 2


@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=8),
    st.integers(1, 20),
    st.integers(100, 3000),
)
def test_a_batch_fills_the_log_exactly_as_its_events_one_by_one(
    batches: list[int], max_events: int, max_bytes: int
) -> None:
    limits = LogLimits(max_events=max_events, max_bytes=max_bytes)
    whole, single = AuditLog("a", limits), AuditLog("b", limits)
    seq = 0
    for size in batches:
        events = [entry(seq := seq + 1, "x" * (seq * 37 % 200)) for _ in range(size)]
        assert whole.extend(events) == [single.append(event) for event in events]
    assert (len(whole), whole.dropped) == (len(single), single.dropped)
    assert whole.read(0, 1 << 30) == single.read(0, 1 << 30)


async def test_every_entry_reaches_the_store_as_the_exact_data_text() -> None:
    store = MemoryStore()
    await store.create_audit(
        AuditRecord("a", "u", "quick_scan", "simple", None, "pipe", "running", 0.0)
    )
    log = AuditLog("a", LIMITS, store)
    events = [entry(1), entry(2, "é\nnew line"), terminal()]
    for event in events[:-1]:
        log.append(event)
    await log.finish(events[-1])
    stored = await store.load_events("a")
    assert stored == [StoredEvent(i, e.type, to_json(e)) for i, e in enumerate(events, 1)]
    rebuilt = AuditLog.from_stored("a", LIMITS, stored)
    assert rebuilt.read(0, 1 << 20) == log.read(0, 1 << 20)
    assert rebuilt.closed


# -- visible means durable, against a real SQLite file

SLOW = StoreSettings(batch_interval=60.0, batch_max_events=10_000)  # commits only when asked
RECORD = AuditRecord("a", "u", "quick_scan", "simple", None, "pipe", "running", 0.0)


def committed_count(path: Path) -> int:
    """What another connection finds in the file right now."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.fixture
async def slow_store(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, list[int]]]:
    batches: list[int] = []
    store = SQLiteStore(tmp_path / "veritas.sqlite3", SLOW, on_batch=batches.append)
    await store.open()
    await store.create_audit(RECORD)
    yield store, batches
    await store.close()


async def test_events_are_visible_only_once_sqlite_has_committed_them(
    slow_store: tuple[SQLiteStore, list[int]],
) -> None:
    store, _ = slow_store
    log = AuditLog("a", LIMITS, store)
    assert log.extend([entry(1), entry(2)]) == [1, 2]
    waiter = asyncio.create_task(log.wait(0))
    await asyncio.sleep(0)
    assert (len(log), log.staged, committed_count(store.path)) == (0, 2, 0)
    assert log.read(0, 1 << 20) == (b"", 0) and not waiter.done()
    await store.flush()
    assert (len(log), log.staged, committed_count(store.path)) == (2, 0, 2)
    await asyncio.wait_for(waiter, 10)


async def test_batches_queued_before_a_commit_share_it(
    slow_store: tuple[SQLiteStore, list[int]],
) -> None:
    store, batches = slow_store
    log = AuditLog("a", LIMITS, store)
    for seq in range(1, 4):
        log.extend([entry(2 * seq - 1), entry(2 * seq)])
    await log.finish(terminal())
    assert batches == [7]  # three reads and the terminal: one transaction
    assert log.closed and len(log) == 7


async def test_with_durable_visibility_off_events_show_before_their_commit(
    slow_store: tuple[SQLiteStore, list[int]],
) -> None:
    store, _ = slow_store
    log = AuditLog("a", LIMITS, store, durable_visibility=False)
    log.extend([entry(1)])
    assert (len(log), committed_count(store.path)) == (1, 0)
    await log.finish(terminal())
    assert (len(log), committed_count(store.path)) == (2, 2)


async def test_a_store_that_fails_ends_the_log_without_showing_what_it_lost(
    tmp_path: Path,
) -> None:
    path = tmp_path / "veritas.sqlite3"
    store = SQLiteStore(path, StoreSettings(batch_interval=60.0, busy_timeout=0.05))
    await store.open()
    await store.create_audit(RECORD)
    log = AuditLog("a", LIMITS, store)
    log.extend([entry(1)])
    waiter = asyncio.create_task(log.wait(0))
    # Another connection holds the write lock: the store's commit fails for real.
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable):
            await store.flush()
        other.execute("ROLLBACK")
    await asyncio.wait_for(waiter, 10)
    assert store.failure is not None and log.failure == store.failure
    assert log.ended and not log.closed and len(log) == 0
    assert log.extend([entry(2)]) == [None]
    with pytest.raises(StoreUnavailable):
        await log.finish(terminal())
    with pytest.raises(StoreUnavailable):
        await store.create_audit(replace(RECORD, id="b"))
    await store.close()
    assert committed_count(path) == 0


def stored(position: int, event: Event) -> StoredEvent:
    return StoredEvent(position, event.type, to_json(event))


async def test_restore_shows_stored_events_in_order_skips_held_ones_and_stops_at_a_hole() -> None:
    log = AuditLog("a1", LIMITS)
    end_event = terminal()
    assert log.restore([stored(1, entry(1)), stored(2, entry(2))]) == 2
    assert log.restore([stored(2, entry(2)), stored(3, entry(3)), stored(5, entry(5))]) == 1
    assert len(log) == 3 and not log.closed
    assert log.restore([stored(4, end_event), stored(5, entry(5))]) == 1
    assert log.closed and len(log) == 4
    data, end = log.read(0, 1 << 20)
    assert end == 4 and data == b"".join(
        encode_message(to_json(event), event=event.type, id=n)
        for n, event in enumerate((entry(1), entry(2), entry(3), end_event), 1)
    )
    with pytest.raises(RuntimeError):
        log.append(entry(6))
