"""The design being replaced: a spawned child fills `multiprocessing.Manager().Queue(1000)`
and the event loop takes each event with `await asyncio.to_thread(q.get, timeout=1.0)`."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bench.proc import children, cpu_seconds
from bench.stream import EventStream, hello, result
from protocol.events import Event, from_wire

QUEUE_SIZE = 1000
GET_TIMEOUT = 1.0


def produce(q: Any, count: int, rate: float, screenshots: bool) -> None:
    """The child: the same stream as `bench.emitter`, put on the queue one event at a time."""
    stream = EventStream(screenshots=screenshots, stamp=rate > 0)
    q.put(hello("stdout", "https://shop.example/", "quick_scan"))
    start = time.monotonic()
    for index in range(count):
        if rate > 0:
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        q.put(stream.event(index + 2))
    times = os.times()
    q.put(result(count + 2, {"emitter_cpu_s": times.user + times.system}))


@dataclass(frozen=True, slots=True)
class QueueRun:
    manager_cpu: float  # CPU seconds of the Manager's server process


class Sink(Protocol):
    def append(self, event: Event) -> None: ...


async def run(sink: Sink, count: int, rate: float, screenshots: bool, limit: float) -> QueueRun:
    """Start a Manager and a spawned producer, hand every event to `sink`, stop at the result."""
    ctx = multiprocessing.get_context("spawn")
    before = set(children(os.getpid()))
    manager = ctx.Manager()
    manager_pids = set(children(os.getpid())) - before
    try:
        q = manager.Queue(maxsize=QUEUE_SIZE)
        child = ctx.Process(target=produce, args=(q, count, rate, screenshots), daemon=True)
        child.start()
        try:
            await _consume(q, sink, child, time.monotonic() + limit)
        finally:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
                child.join()
        return QueueRun(sum(cpu_seconds(pid) for pid in manager_pids))
    finally:
        manager.shutdown()


async def _consume(q: Any, sink: Sink, child: Any, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            item = await asyncio.to_thread(q.get, True, GET_TIMEOUT)
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError("the producer exited before its result") from None
            continue
        event = from_wire(item)
        sink.append(event)
        if event.type == "audit_result":
            return
    raise TimeoutError("the Manager queue run did not finish in time")
