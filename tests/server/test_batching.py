"""The write pipeline both stores share: order, batch size, flush, fail-stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from server.stores.batching import Events, WriteQueue
from server.stores.errors import StoreUnavailable
from server.stores.store import StoredEvent


@dataclass
class Write:
    name: str
    future: asyncio.Future[Any]


class Listener:
    def __init__(self) -> None:
        self.failure: str | None = None

    def committed(self, position: int) -> None:
        return None

    def failed(self, reason: str) -> None:
        self.failure = reason


def events(audit_id: str, first: int, count: int, listener: Listener | None = None) -> Events:
    stored = [StoredEvent(p, "log_entry", "{}") for p in range(first, first + count)]
    return Events(audit_id, stored, listener, size=2 * count)


def names(batch: list[Events | Write]) -> list[str]:
    return [
        i.name if isinstance(i, Write) else f"{i.audit_id}{i.events[0].position}" for i in batch
    ]


async def test_batches_keep_the_order_and_stop_near_the_event_limit() -> None:
    queue: WriteQueue[Write] = WriteQueue(batch_max_events=4, max_pending_bytes=1000)
    seen: list[list[str]] = []

    async def commit(batch: list[Events | Write]) -> None:
        seen.append(names(batch))
        for item in batch:
            if isinstance(item, Write):
                item.future.set_result(None)

    loop = asyncio.get_running_loop()
    write = Write("w", loop.create_future())
    for item in (events("a", 1, 3), write, events("a", 4, 3), events("b", 1, 1)):
        queue.put(item)
    writer = asyncio.create_task(queue.run(commit, 0.0, lambda exc: None))
    await queue.flush()
    assert seen == [["a1", "w", "a4"], ["b1"]]
    assert write.future.done()
    queue.close()
    await writer


async def test_stop_tells_every_listener_write_and_flush_and_the_writer_ends() -> None:
    queue: WriteQueue[Write] = WriteQueue(batch_max_events=100, max_pending_bytes=10)
    gate = asyncio.Event()

    async def commit(batch: list[Events | Write]) -> None:
        await gate.wait()
        queue.stop("disk gone", batch)

    first, later = Listener(), Listener()
    queue.put(events("a", 1, 2, first))
    writer = asyncio.create_task(queue.run(commit, 0.0, lambda exc: None))
    await asyncio.sleep(0)
    queue.put(events("a", 3, 2, later))
    assert queue.over(7) and not queue.over(6)  # 4 bytes queued, 10 allowed
    write = Write("w", asyncio.get_running_loop().create_future())
    queue.put(write)
    flushing = asyncio.create_task(queue.flush())
    await asyncio.sleep(0)
    gate.set()
    await writer
    assert (first.failure, later.failure) == ("disk gone", "disk gone")
    with pytest.raises(StoreUnavailable):
        await write.future
    with pytest.raises(StoreUnavailable):
        await flushing
