"""Connections: how many the server holds, and how long a slow or idle one may keep its place.

aiohttp closes a connection that waits too long for its next request (`idle_timeout`), but
a client that sends a request head one line at a time keeps its place, and its descriptor,
for as long as it likes; enough of them exhaust the descriptor limit and nothing else gets
in. So each connection here also has a deadline for a whole request head
(`header_timeout`), and the server holds at most `max_connections`: a new connection past
the limit takes the place of the oldest one that is not inside a request; when every one
is, the newcomer gets a 503 and is closed. A request in progress (an event stream among
them) is never closed by these rules; streams keep their own pace with pings.

An event stream's connection leaves aiohttp once its head is sent (`GuardedHandler.detach`,
`server/streaming/detached.py`): from then on it is counted here as a stream, never
evicted, and closed by `close_streams` when the server shuts down.

Also here: the errors aiohttp answers before any handler runs (a malformed head, an
unknown `Content-Encoding`) get the JSON error shape and a debug log line, not a traceback.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import resource
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from server.errors import HTTP_CODES, ApiError
from server.streaming.detached import DetachedStream

logger: Final = logging.getLogger("server.api.connections")

# Descriptors kept for everything but client connections: the listening socket, the
# event loop, the store and its journal, logs, and one connection being refused.
FIXED_RESERVE: Final = 32
PER_WORKER_RESERVE: Final = 8  # a worker's pipes and process handle
_TIMER_CONTEXT: Final = contextvars.Context()
REFUSAL: Final = json.dumps(
    ApiError(503, "too_many_connections", "too many open connections; retry later").body()
).encode()


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float  # seconds from a connection's first byte (or its opening) to a head
    idle_timeout: float  # seconds between two requests on one connection


def descriptor_budget(wanted: int, workers: int) -> int:
    """`wanted`, lowered to what the process's descriptor limit leaves for connections."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, soft - FIXED_RESERVE - PER_WORKER_RESERVE * workers)


class Connections:
    """Every open connection, oldest first, and which of them are inside a request."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: dict[GuardedHandler, None] = {}
        self._busy: set[GuardedHandler] = set()
        self._streams: dict[DetachedStream, None] = {}
        self.evicted = 0  # closed to make room for a newer one
        self.refused = 0  # turned away: every place was inside a request
        self.timed_out = 0  # closed for a request head that took too long

    @property
    def open(self) -> int:
        return len(self._open) + len(self._streams)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def counts(self) -> dict[str, int]:
        return {
            "open": self.open,
            "limit": self.limits.max_connections,
            "evicted": self.evicted,
            "refused": self.refused,
            "timed_out": self.timed_out,
        }

    async def make_room(self) -> None:
        """After an accept: at the limit, close the oldest idle connections to make room.

        When every connection is inside a request there is none to close; the newcomer is
        then told so (`opened` refuses it), one descriptor over the limit for a moment.
        """
        while self.open >= self.limits.max_connections:
            oldest = next((h for h in self._open if h not in self._busy), None)
            if oldest is None:
                return
            self.evicted += 1
            logger.debug("connection limit reached: closing the oldest idle connection")
            self.closed(oldest)
            oldest.abort()
        await asyncio.sleep(0)  # let the closed sockets go before the next accept

    def opened(self, handler: GuardedHandler) -> bool:
        """Count `handler` in; False when there is no room for it (refuse it)."""
        if self.open >= self.limits.max_connections:
            self.refused += 1
            return False
        self._open[handler] = None
        return True

    def closed(self, handler: GuardedHandler) -> None:
        self._open.pop(handler, None)
        self._busy.discard(handler)

    def detached(self, handler: GuardedHandler, stream: DetachedStream) -> None:
        """`handler`'s connection goes on as `stream`, counted until it closes."""
        self.closed(handler)
        self._streams[stream] = None

    def stream_closed(self, stream: DetachedStream) -> None:
        self._streams.pop(stream, None)

    async def close_streams(self, grace: float) -> None:
        """At shutdown, once every audit has ended: let the streams send their ends, for
        up to `grace` seconds, then cut the rest."""
        tasks = [s.task for s in self._streams if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for stream in list(self._streams):
            stream.abort()
            if stream.task is not None:
                stream.task.cancel()
        left = [s.task for s in self._streams if s.task is not None]
        if left:
            await asyncio.wait(left)

    def begin(self, handler: GuardedHandler) -> None:
        self._busy.add(handler)

    def end(self, handler: GuardedHandler) -> None:
        self._busy.discard(handler)

    def busy(self, handler: GuardedHandler) -> bool:
        return handler in self._busy


class GuardedHandler(web.RequestHandler):
    """aiohttp's connection handler, counted by `Connections` and held to a head deadline."""

    # aiohttp's handler has slots: without these, each connection would also get a __dict__.
    __slots__ = ("_connections", "_detached", "_head_timer")

    def __init__(self, connections: Connections, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._connections = connections
        self._head_timer: asyncio.TimerHandle | None = None
        self._detached = False

    def detach(self, *, chunked: bool) -> DetachedStream | None:
        """Hand the connection to a `DetachedStream`, from inside the request's handler,
        once the response's head is written. None when there is no open connection.

        aiohttp is left with no transport, which is how it sees a client that left: the
        handler's return finds nothing to write the end of the response to, and the
        request, the response and this handler are let go. The stream owns the socket.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return None
        stream = DetachedStream(
            transport, chunked=chunked, on_closed=self._connections.stream_closed
        )
        transport.set_protocol(stream)
        self.transport = None
        self._detached = True
        self._connections.detached(self, stream)
        return stream

    async def start(self) -> None:
        try:
            await super().start()
        finally:
            if self._detached:
                # The transport never reports to this handler again: say goodbye for it,
                # so that aiohttp's server forgets this handler.
                self.connection_lost(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._connections.opened(self):
            self._arm_head_timer()
        else:
            # No isinstance check: uvloop's transports do not derive from asyncio's classes.
            cast(asyncio.Transport, transport).write(_refusal())
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        self._connections.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # The first byte of a request starts its head's clock (the opening started the first).
        if self._head_timer is None and not self._connections.busy(self):
            self._arm_head_timer()
        super().data_received(data)

    def abort(self) -> None:
        """Close at once, dropping anything unsent: the descriptor is needed now."""
        if self.transport is not None:
            self.transport.abort()
        self.force_close()

    def begin_request(self) -> None:
        self._disarm_head_timer()
        self._connections.begin(self)

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        # Called once a response is written: from here the connection is idle again.
        super().log_access(request, response, time)
        self._connections.end(self)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp answers before the application runs (a bad head): JSON, logged quietly."""
        if status >= 500:
            logger.error("error before the handler on %s", request.path, exc_info=exc)
        else:
            logger.debug("refused a malformed request (%s): %s", status, message or exc)
        reason = message or (str(exc) if exc is not None else "") or "malformed"
        reason = f"the request cannot be read: {reason}"
        error = ApiError(status, HTTP_CODES.get(status, "http_error"), reason)
        response = web.json_response(error.body(), status=status)
        response.force_close()
        return response

    def _arm_head_timer(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._connections.limits.header_timeout
        # A shared, empty context: the timer reads no context variables, and a copy of the
        # current one for every connection is memory an idle connection keeps.
        self._head_timer = loop.call_later(delay, self._head_late, context=_TIMER_CONTEXT)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self._connections.busy(self):
            self._connections.timed_out += 1
            logger.debug("closing a connection whose request head took too long")
            self.force_close()


def _refusal() -> bytes:
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(REFUSAL)}\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + REFUSAL


@web.middleware
def request_state(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Marks the connection as inside a request, so no limit closes it under the handler.

    Not a coroutine: it hands back the handler's own awaitable, so a request (an event
    stream that lasts for hours among them) holds no suspended frame of this middleware.
    """
    protocol = request.protocol
    if isinstance(protocol, GuardedHandler):
        protocol.begin_request()
    return handler(request)
