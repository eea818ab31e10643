"""The event stream response: one subscriber, as a cursor reading an `AuditLog`.

The subscriber replays the log after its `Last-Event-ID` and then follows it live, from
the same cursor: the replay and the live part are one loop over one log, so there is no
boundary at which an event could be missed or sent twice. The cursor advances only as
fast as the client's socket drains; a write that stays blocked past the deadline closes
the connection (the client resumes with `Last-Event-ID`), and the log never waits.

Pings come from one clock for all streams (`Subscribers.run_clock`), not a timer per
stream: it beats twice per ping interval and wakes the cursors of every followed log; a
cursor that has written nothing for three beats (between one and one and a half ping
intervals) sends `: ping`. A timer armed and cancelled around every wait was a cost per
delivery at thousands of subscribers, and memory per idle stream.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from aiohttp import web

from protocol.sse import encode_comment, encode_retry
from server.errors import ApiError
from server.streaming.detached import Detachable, DetachedStream
from server.streaming.log import AuditLog

logger: Final = logging.getLogger("server.streaming.sse")

HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
# The bytes chunked transfer encoding adds around a write: its hex length and two CRLFs.
CHUNK_FRAMING = 32
# Digits only, so a header can never be a float, a sign or a huge number.
MAX_ID_DIGITS = 18
# The ping clock beats twice per ping interval; a stream silent for this many beats pings.
BEATS_PER_INTERVAL = 2
SILENT_BEATS = 3


@dataclass(frozen=True, slots=True)
class SseSettings:
    ping_interval: float  # seconds of silence before a `: ping` comment (up to 1.5 times)
    write_deadline: float  # seconds a write may stay blocked before the client is dropped
    retry_ms: int  # the reconnection delay announced to clients ...
    retry_jitter_ms: int  # ... plus up to this much, random per stream
    batch_bytes: int  # replay joins entries into writes of about this size


class Subscribers:
    """How many streams are open, how many were cut for not keeping up, and the ping clock
    they share."""

    def __init__(self, on_delivered: Callable[[float], None] | None = None) -> None:
        self.active = 0
        self.dropped = 0
        # Called with the seconds from a live event's append to its write to a subscriber.
        self.on_delivered = on_delivered
        self.beats = 0  # of the ping clock, since the start
        # Logs someone follows; weak, so a log no one holds any more drops out by itself.
        self._followed: weakref.WeakSet[AuditLog] = weakref.WeakSet()

    def follow(self, log: AuditLog) -> None:
        self._followed.add(log)

    def beat(self) -> None:
        """One beat of the ping clock: wake the cursors of every followed log."""
        self.beats += 1
        for log in list(self._followed):
            if log.ended:
                self._followed.discard(log)
            else:
                log.nudge()

    async def run_clock(self, ping_interval: float) -> None:
        """The ping clock, for as long as the server runs (the app's task)."""
        while True:
            await asyncio.sleep(ping_interval / BEATS_PER_INTERVAL)
            self.beat()


def last_event_id(request: web.Request) -> int:
    """The position a client has seen: `Last-Event-ID` header, else `?last_event_id=`, else 0."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None:
        raw = request.query.get("last_event_id")
    if raw is None or raw.strip() == "":
        return 0
    text = raw.strip()
    if not text.isdigit() or not text.isascii() or len(text) > MAX_ID_DIGITS:
        raise ApiError(
            400,
            "bad_last_event_id",
            f"Last-Event-ID must be an event position, got {raw!r}",
            "last_event_id",
        )
    return int(text)


def check_cursor(log: AuditLog, after: int) -> bool:
    """False when there is nothing left to send (204); raises for a position never issued,
    and while the store that should make the rest durable has failed (503)."""
    if log.failure is not None:
        raise ApiError(503, "store_unavailable", f"the event store has failed: {log.failure}")
    if after > len(log):
        raise ApiError(
            400,
            "bad_last_event_id",
            f"Last-Event-ID {after} is beyond the {len(log)} events of this audit",
            "last_event_id",
        )
    return not (log.closed and after == len(log))


async def stream_log(
    request: web.Request,
    log: AuditLog,
    after: int,
    settings: SseSettings,
    subscribers: Subscribers,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Send the log after position `after`, then follow it until its terminal event.

    Once the head is sent the stream goes on, where the connection allows it, as a
    `DetachedStream` in a task of its own, and this handler returns at once: aiohttp's
    request, response and connection handler are let go for the life of the stream.
    """
    response = web.StreamResponse(headers={**HEADERS, **(headers or {})})
    detachable = can_detach(request, response)
    if detachable:
        # The connection closes when the stream ends: no handler is left to read another
        # request on it. Said in the head, so that no client sends one.
        response.force_close()
    await response.prepare(request)
    # How aiohttp framed the body (chunked on HTTP/1.1), read off the head it sent.
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "")
    # The head is on the wire: the headers (a dozen with the security ones, about 2 KiB)
    # would otherwise stay in memory for as long as the stream lasts.
    response.headers.clear()
    retry = settings.retry_ms + random.randint(0, settings.retry_jitter_ms)
    opening = encode_comment(f"audit {log.audit_id}") + encode_retry(retry)
    try:
        # The opening follows the head at once, a few bytes in all: aiohttp waits for the
        # socket to drain only past 64 KiB written, so this write cannot block and needs no
        # deadline (whose timer would stay in the loop's heap, per connection, until due).
        await response.write(opening)
    except ConnectionResetError:
        return response  # the client left; its audit goes on
    stream = detach(request, chunked=chunked) if detachable else None
    if stream is None:
        await serve(ResponseSink(request, response), log, after, settings, subscribers)
    else:
        stream.run(serve_detached(stream, log, after, settings, subscribers))
    return response


def can_detach(request: web.Request, response: web.StreamResponse) -> bool:
    """Whether the connection's handler can give it up, and the response needs nothing of
    aiohttp's writer but chunked framing (no compression)."""
    return isinstance(request.protocol, Detachable) and not response.compression


def detach(request: web.Request, *, chunked: bool) -> DetachedStream | None:
    """The connection as a `DetachedStream`; None if it has closed meanwhile."""
    protocol = request.protocol
    assert isinstance(protocol, Detachable)
    return protocol.detach(chunked=chunked)


async def serve(
    sink: Sink, log: AuditLog, after: int, settings: SseSettings, subscribers: Subscribers
) -> None:
    """Follow the log into `sink` until the terminal event, then end the response."""
    subscriber = Subscriber(sink, settings, subscribers)
    subscribers.follow(log)
    subscribers.active += 1
    try:
        await subscriber.follow(log, after)
        if not subscriber.gone:
            await sink.end(settings.write_deadline)
    except ConnectionResetError:
        pass  # the client left; its audit goes on
    finally:
        subscribers.active -= 1
        subscribers.dropped += subscriber.dropped


async def serve_detached(
    stream: DetachedStream,
    log: AuditLog,
    after: int,
    settings: SseSettings,
    subscribers: Subscribers,
) -> None:
    """`serve`, in the stream's own task: nothing above it would see an error, so log it."""
    try:
        await serve(stream, log, after, settings, subscribers)
    except Exception:
        logger.exception("event stream of %s failed", log.audit_id)
        stream.abort()


class Sink(Protocol):
    """Where a subscriber writes: aiohttp's response, or a detached stream."""

    @property
    def transport(self) -> asyncio.Transport | None: ...

    async def write(self, data: bytes) -> None: ...

    async def end(self, deadline: float) -> None: ...

    def abort(self) -> None: ...


class ResponseSink:
    """A stream that stays inside aiohttp (a connection handler that cannot detach)."""

    __slots__ = ("request", "response")

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.request.transport

    async def write(self, data: bytes) -> None:
        await self.response.write(data)

    async def end(self, deadline: float) -> None:
        await self.response.write_eof()

    def abort(self) -> None:
        self.response.force_close()
        if self.request.transport is not None:
            self.request.transport.abort()


class Subscriber:
    """One client's cursor: writes what the log holds beyond it, as fast as the socket drains."""

    __slots__ = ("clock", "dropped", "settings", "sink")

    def __init__(self, sink: Sink, settings: SseSettings, clock: Subscribers) -> None:
        self.sink = sink
        self.settings = settings
        self.clock = clock
        self.dropped = False

    @property
    def gone(self) -> bool:
        transport = self.sink.transport
        return transport is None or transport.is_closing()

    async def follow(self, log: AuditLog, cursor: int) -> None:
        live = False  # past the replay: entries arrive while this cursor waits
        clock = self.clock
        written = clock.beats  # the beat of the last write
        while True:
            chunk, end = log.read(cursor, self.settings.batch_bytes)
            if chunk:
                if not await self.send(chunk):
                    return
                if live:
                    self._delivered(log, cursor, end)
                written = clock.beats
                cursor = end
                continue
            if log.ended or self.gone:
                return
            if clock.beats - written >= SILENT_BEATS:
                if not await self.send(encode_comment("ping")):
                    return
                written = clock.beats
                continue
            await log.changed()  # growth, the end, or the clock's beat
            live = True

    async def send(self, data: bytes) -> bool:
        """Write under the slow-subscriber deadline; False (and the connection cut) if missed."""
        transport = self.sink.transport
        if transport is not None and (
            transport.get_write_buffer_size() + len(data) + CHUNK_FRAMING
            < transport.get_write_buffer_limits()[1]
        ):
            # The write waits only while the transport is paused, which it is not and
            # this write cannot make it: no deadline is needed. A timer per delivery
            # was a third of the server's CPU per delivery at 5,000 subscribers.
            await self.sink.write(data)
            return True
        try:
            async with asyncio.timeout(self.settings.write_deadline):
                await self.sink.write(data)
        except TimeoutError:
            self._drop()
            return False
        return True

    def _delivered(self, log: AuditLog, after: int, end: int) -> None:
        on_delivered = self.clock.on_delivered
        if on_delivered is not None:
            now = time.monotonic()
            for position in range(after + 1, end + 1):
                on_delivered(now - log.appended_at(position))

    def _drop(self) -> None:
        # Aborting the transport is the only way to unblock a client that never reads.
        self.dropped = True
        self.sink.abort()
