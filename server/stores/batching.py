"""The write pipeline both stores share: one ordered queue, drained in batches by one writer.

A store queues two kinds of item: `Events` (one audit's batch of events and the listener
to tell once they are durable; nobody awaits it) and its own awaited writes (anything
with a `future`). The queue keeps them in the order they were issued, so a record change
is never written ahead of the events appended before it. Its writer (`run`, the store's
task) waits for work, gathers for `interval` seconds when asked to (unless something is
urgent: an awaited write, a flush, a full batch), takes about `batch_max_events` events
at a time, and hands each batch to the store's `commit` coroutine, which writes it and
settles its items (tells listeners, resolves futures). Then the batch counts as done, and
`flush()`es waiting for it return.

The store stops for good with `stop(reason)`: everything queued is dropped, and every
listener, awaited write and flush is told (`tell_everyone`). An exception out of
`commit` stops it too (fail-stop: positions promised to live logs cannot be skipped).

Only the event data queued is bounded here (`over`); what a store does past the bound
(refuse the batch, or keep it when it holds a terminal event) is the store's choice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from server.stores.failure import tell_everyone
from server.stores.store import CommitListener, StoredEvent


@dataclass(slots=True)
class Events:
    """A batch of one audit's events, and who to tell once they are durable."""

    audit_id: str
    events: Sequence[StoredEvent]
    listener: CommitListener | None
    size: int  # bytes of event data
    token: str = ""  # a shared store's fencing token for the audit (see stores/redis.py)


class Awaited(Protocol):
    """An awaited write of a store: whatever it holds, and its caller's future."""

    @property
    def future(self) -> asyncio.Future[Any]: ...


W = TypeVar("W", bound=Awaited)
Commit = Callable[[list["Events | W"]], Awaitable[None]]


class WriteQueue(Generic[W]):
    """`put` items, `flush()` to wait for them, `run(commit)` as the writer task."""

    def __init__(self, batch_max_events: int, max_pending_bytes: int) -> None:
        self.batch_max_events = batch_max_events
        self.max_pending_bytes = max_pending_bytes
        self.closing = False  # no more items: the writer drains what is queued and returns
        self.stopped = False  # stopped for good: nothing queued will be written
        self._pending: list[Events | W] = []
        self._pending_bytes = 0
        self._pending_events = 0
        self._queued = 0  # items ever queued
        self._done = 0  # items ever written (or failed and reported)
        self._flushers: list[tuple[int, asyncio.Future[None]]] = []
        self._has_work = asyncio.Event()
        self._urgent = asyncio.Event()

    def over(self, size: int) -> bool:
        """Would `size` more bytes of events pass the bound?"""
        return self._pending_bytes + size > self.max_pending_bytes

    def put(self, item: Events | W) -> None:
        self._pending.append(item)
        self._queued += 1
        self._has_work.set()
        if isinstance(item, Events):
            self._pending_bytes += item.size
            self._pending_events += len(item.events)
            if self._pending_events >= self.batch_max_events:
                self._urgent.set()
        else:
            self._urgent.set()  # someone awaits it

    async def flush(self) -> None:
        """Return once everything queued before the call is written."""
        target = self._queued
        if self._done >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushers.append((target, future))
        self._urgent.set()
        await future

    def close(self) -> None:
        """The writer writes what is queued, then returns."""
        self.closing = True
        self._has_work.set()
        self._urgent.set()

    def stop(self, reason: str, batch: Sequence[Events | W] = ()) -> None:
        """Stop for good: `batch` (being written) and everything queued is never written."""
        self.stopped = True
        items, self._pending = [*batch, *self._pending], []
        self._pending_bytes = self._pending_events = 0
        flushers, self._flushers = self._flushers, []
        tell_everyone(
            reason,
            (item.listener for item in items if isinstance(item, Events)),
            [
                *(item.future for item in items if not isinstance(item, Events)),
                *(future for _, future in flushers),
            ],
        )
        self.close()

    async def run(
        self, commit: Commit[W], interval: float, on_error: Callable[[Exception], None]
    ) -> None:
        """The writer: batches to `commit` until closed and drained, or stopped."""
        try:
            while not self.stopped and not (self.closing and not self._pending):
                await self._has_work.wait()
                if interval > 0 and not self._urgent.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(interval):
                            await self._urgent.wait()
                batch = self._take()
                if batch:
                    await commit(batch)
                    if not self.stopped:
                        self._written(len(batch))
        except Exception as exc:
            on_error(exc)

    def _take(self) -> list[Events | W]:
        """About `batch_max_events` events, oldest first: one write stays short; a
        remainder is written right after."""
        taken = count = 0
        for item in self._pending:
            taken += 1
            count += len(item.events) if isinstance(item, Events) else 0
            if count >= self.batch_max_events:
                break
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        for item in batch:
            if isinstance(item, Events):
                self._pending_bytes -= item.size
                self._pending_events -= len(item.events)
        if self._pending:
            self._urgent.set()
        else:
            self._has_work.clear()
            self._urgent.clear()
        return batch

    def _written(self, count: int) -> None:
        self._done += count
        waiting = []
        for target, future in self._flushers:
            if target > self._done:
                waiting.append((target, future))
            elif not future.done():
                future.set_result(None)
        self._flushers = waiting
