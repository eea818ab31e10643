"""A detached stream: an event stream's socket, taken over from aiohttp once the head is sent.

An open event stream inside aiohttp keeps the whole of a request in progress for as long
as it lasts: the connection handler and its parser, the request and its headers, the
response and its writer, two tasks and the coroutine frames of the middlewares and the
route. Once the head is on the wire none of it is needed: what is left is writing chunks
as fast as the socket drains. So the connection is handed to a `DetachedStream`, the
transport's protocol from then on, and aiohttp lets go of it as it does of a client that
left (`server/api/connections.py`, `GuardedHandler.detach`).

What aiohttp did for the stream, this does: the chunked framing of every write (and the
terminating chunk), waiting while the transport's buffer is above its high-water mark,
and noticing the client leave. Bytes a client sends on a stream's connection are not
read: the connection is closed when the stream ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Final, Protocol, runtime_checkable

TERMINATOR: Final = b"0\r\n\r\n"


class StreamClosed(ConnectionResetError):
    """The client left, or the stream was cut, while a write waited."""


class DetachedStream(asyncio.Protocol):
    """One event stream's connection after the head: writes, flow control, its end."""

    __slots__ = ("_drained", "_lost", "_on_closed", "chunked", "task", "transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        *,
        chunked: bool,
        on_closed: Callable[[DetachedStream], None],
    ) -> None:
        self.transport = transport
        self.chunked = chunked
        self.task: asyncio.Task[None] | None = None
        self._drained: asyncio.Future[None] | None = None  # set while the socket is full
        self._lost: asyncio.Future[None] | None = None  # set while the end waits for the close
        self._on_closed: Callable[[DetachedStream], None] | None = on_closed

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Serve the stream with `coroutine`, in a task this stream owns."""
        self.task = asyncio.get_running_loop().create_task(coroutine)

    @property
    def gone(self) -> bool:
        return self.transport.is_closing()

    async def write(self, data: bytes) -> None:
        """Send one chunk; while the transport is paused, wait for it to drain."""
        if self.transport.is_closing():
            raise StreamClosed("the stream's connection is closed")
        if self.chunked:
            self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.transport.write(data)
        if self._drained is not None:
            await self._drained
            if self.transport.is_closing():
                raise StreamClosed("the stream's connection was lost")

    async def end(self, deadline: float) -> None:
        """The terminating chunk, then the close; cut if the client has not read it in time."""
        if self.transport.is_closing():
            return
        if self.chunked:
            self.transport.write(TERMINATOR)
        self._lost = asyncio.get_running_loop().create_future()
        self.transport.close()  # flushes what is buffered first
        try:
            async with asyncio.timeout(deadline):
                await self._lost
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        """Close at once, dropping anything unsent."""
        self.transport.abort()

    # asyncio.Protocol

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def data_received(self, data: bytes) -> None:
        pass  # nothing more is read on a stream's connection

    def eof_received(self) -> bool:
        return False  # the client closed its side: close ours too

    def connection_lost(self, exc: BaseException | None) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)  # the waiting write sees the transport closing
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        on_closed, self._on_closed = self._on_closed, None
        if on_closed is not None:
            on_closed(self)
        if self.task is not None and self._lost is None:
            # The client left while its cursor waits for the log (up to a ping interval):
            # nothing is left to send, so the cursor goes now.
            self.task.cancel()


@runtime_checkable
class Detachable(Protocol):
    """A connection handler that can hand its connection to a `DetachedStream`."""

    def detach(self, *, chunked: bool) -> DetachedStream | None: ...
