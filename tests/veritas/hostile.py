"""Hostile targets below HTTP: a raw TCP server on 127.0.0.1 that sends fixed bytes, or nothing.

    with serve_raw(b"HTTP/1.1 200 OK\\r\\nServer: \\xff\\r\\n...") as port: ...
    with serve_raw(None) as port: ...     # accepts, reads, never answers (a stalled handshake)

Served from a thread with its own loop, so both in-process fetchers and auditor processes
can use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serve_raw(response: bytes | None) -> Iterator[int]:
    """Serve `response` to every connection once its request head arrived; yield the port."""
    ready = threading.Event()
    box: list[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if response is None:
                while await reader.read(4096):  # swallow everything, answer nothing
                    pass
                return
            await reader.readuntil(b"\r\n\r\n")
            writer.write(response)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        stop = asyncio.Event()
        box.append((asyncio.get_running_loop(), stop, server.sockets[0].getsockname()[1]))
        ready.set()
        async with server:
            await stop.wait()
            server.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the raw server did not start")
    loop, stop, port = box[0]
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def redirect_to(location: bytes) -> bytes:
    """A 302 response whose Location header is exactly these bytes."""
    return (
        b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
