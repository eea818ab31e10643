"""The streams' shared ping clock: a cursor pings after three silent beats, never sooner,
and no stream arms a timer of its own while it waits."""

from __future__ import annotations

import asyncio

from protocol.events import new_event
from protocol.sse import encode_comment
from server.streaming.log import AuditLog, LogLimits
from server.streaming.sse import SILENT_BEATS, SseSettings, Subscriber, Subscribers

SETTINGS = SseSettings(
    ping_interval=3600.0, write_deadline=5.0, retry_ms=1000, retry_jitter_ms=0, batch_bytes=1 << 16
)
PING = encode_comment("ping")


class OpenTransport:
    """What a subscriber asks of its socket: open, and never full."""

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 1 << 20)


class Collected:
    """A sink that keeps what is written (the socket is not what these tests are about;
    tests/server/test_sse_stream.py has the pings of a real server)."""

    def __init__(self) -> None:
        self.transport = OpenTransport()
        self.writes: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def end(self, deadline: float) -> None:
        pass

    def abort(self) -> None:
        pass


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def following(log: AuditLog, clock: Subscribers) -> tuple[Collected, asyncio.Task[None]]:
    sink = Collected()
    clock.follow(log)
    subscriber = Subscriber(sink, SETTINGS, clock)  # type: ignore[arg-type]
    task = asyncio.create_task(subscriber.follow(log, 0))
    await settle()
    return sink, task


def entry(seq: int) -> object:
    return new_event("log_entry", seq, agent="test", level="info", message="hello")


async def test_an_idle_cursor_pings_after_three_silent_beats_and_not_before() -> None:
    log, clock = AuditLog("a", LogLimits(max_events=100, max_bytes=1 << 20)), Subscribers()
    sink, task = await following(log, clock)
    for _ in range(SILENT_BEATS - 1):
        clock.beat()
        await settle()
    assert sink.writes == []
    clock.beat()
    await settle()
    assert sink.writes == [PING]
    task.cancel()


async def test_a_write_restarts_the_silence() -> None:
    log, clock = AuditLog("a", LogLimits(max_events=100, max_bytes=1 << 20)), Subscribers()
    sink, task = await following(log, clock)
    clock.beat()
    clock.beat()
    log.append(entry(1))  # type: ignore[arg-type]
    await settle()
    for _ in range(SILENT_BEATS - 1):
        clock.beat()
        await settle()
    assert len(sink.writes) == 1 and sink.writes[0] != PING
    clock.beat()
    await settle()
    assert sink.writes[1:] == [PING]
    task.cancel()


async def test_waiting_cursors_hold_no_timer_of_their_own() -> None:
    log, clock = AuditLog("a", LogLimits(max_events=100, max_bytes=1 << 20)), Subscribers()
    loop = asyncio.get_running_loop()
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    tasks = [(await following(log, clock))[1] for _ in range(50)]
    assert len(loop._scheduled) == before  # type: ignore[attr-defined]
    for task in tasks:
        task.cancel()


async def test_an_ended_log_leaves_the_clock() -> None:
    log, clock = AuditLog("a", LogLimits(max_events=100, max_bytes=1 << 20)), Subscribers()
    _, task = await following(log, clock)
    await log.finish(new_event("audit_complete", 0, elapsed=1.0))
    await task
    clock.beat()
    assert list(clock._followed) == []
