"""The per-audit event log: positions, bytes encoded once, wake-ups, limits, the stored replay."""

from __future__ import annotations

import asyncio

import pytest

from protocol.events import Event, new_event
from protocol.jsonlines import to_json
from protocol.sse import encode_event
from server.stores.memory import MemoryStore
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


class SlowFlushStore(MemoryStore):
    """A store whose flush waits for the test: shows what subscribers see meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.flushed: list[int] = []

    async def flush(self) -> None:
        await self.release.wait()
        self.flushed.append(len(await self.load_events("a")))


async def test_subscribers_see_the_terminal_event_only_once_the_store_holds_it() -> None:
    store = SlowFlushStore()
    await store.create_audit(
        AuditRecord("a", "u", "quick_scan", "simple", None, "pipe", "running", 0.0)
    )
    log = AuditLog("a", LIMITS, store)
    log.append(entry(1))
    finishing = asyncio.create_task(log.finish(terminal()))
    await asyncio.sleep(0.01)
    assert len(log) == 1 and not log.closed  # not visible while the flush is pending
    with pytest.raises(RuntimeError):
        log.append(entry(2))  # and nothing may slip in after it
    store.release.set()
    assert await finishing == 2
    assert store.flushed == [2] and log.closed and len(log) == 2
