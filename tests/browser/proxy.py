"""A TCP proxy between the browser and the server that records both directions and can cut.

`cut()` aborts every open connection at once, as a dropped network would: the browser
sees its event stream fail and reconnects by itself. Afterwards `exchanges()` reads the
recorded bytes back as HTTP requests and responses, so a test can see what the browser
asked for (its `Last-Event-ID`) and exactly which events the server sent on each stream.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from tests.protocol.sse_parser import Message, parse

READ_SIZE: Final = 64 * 1024
EVENTS_PATH: Final = re.compile(r"^GET /audits/([A-Za-z0-9_-]+)/events(\?\S*)? HTTP/1\.1$")


@dataclass
class Connection:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    sent: bytearray = field(default_factory=bytearray)  # browser -> server
    received: bytearray = field(default_factory=bytearray)  # server -> browser
    open: bool = True

    def abort(self) -> None:
        self.open = False
        self.client.transport.abort()
        self.server.transport.abort()

    def close(self) -> None:
        """End both sides after what is buffered has been sent."""
        self.open = False
        self.client.close()
        self.server.close()


@dataclass(frozen=True)
class HttpMessage:
    start: str  # request line or status line
    headers: dict[str, str]  # names lowercased
    body: bytes


@dataclass(frozen=True)
class StreamExchange:
    """One request for an audit's events and what the server answered on it."""

    audit_id: str
    last_event_id: str | None
    status: int
    events: list[Message]

    @property
    def ids(self) -> list[int]:
        return [int(m.last_event_id) for m in self.events]


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections: list[Connection] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        # The server does not own its connection handlers: wait for them here.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> int:
        """Abort every open connection; the number cut."""
        live = [c for c in self.connections if c.open]
        for connection in live:
            connection.abort()
        return len(live)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            connection = Connection(writer, up_writer)
            self.connections.append(connection)
            async with asyncio.TaskGroup() as group:
                group.create_task(pump(reader, up_writer, connection.sent, connection))
                group.create_task(pump(up_reader, writer, connection.received, connection))
        finally:
            writer.close()
            self._handlers.discard(task)

    def exchanges(self, audit_id: str) -> list[StreamExchange]:
        """Every events request for `audit_id`, in the order the connections opened."""
        found: list[StreamExchange] = []
        for connection in self.connections:
            requests = http_messages(bytes(connection.sent))
            responses = http_messages(bytes(connection.received))
            for request, response in zip(requests, responses, strict=False):
                match = EVENTS_PATH.match(request.start)
                if match and match.group(1) == audit_id:
                    found.append(exchange(audit_id, request, response))
        return found


async def pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray, c: Connection
) -> None:
    """Copy one direction until it ends; then the whole connection ends."""
    try:
        while data := await reader.read(READ_SIZE):
            record += data
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        c.abort()  # cut, or reset by one side
    else:
        c.close()


def exchange(audit_id: str, request: HttpMessage, response: HttpMessage) -> StreamExchange:
    status = int(response.start.split(" ", 2)[1])
    return StreamExchange(
        audit_id=audit_id,
        last_event_id=request.headers.get("last-event-id"),
        status=status,
        events=parse(response.body).messages if status == 200 else [],
    )


def http_messages(raw: bytes) -> list[HttpMessage]:
    """HTTP/1.1 messages in a row on one connection; a cut last one as far as it got."""
    return list(_messages(raw))


def _messages(raw: bytes) -> Iterator[HttpMessage]:
    position = 0
    while (end := raw.find(b"\r\n\r\n", position)) >= 0:
        start, *lines = raw[position:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        position = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, position = dechunk(raw, position)
        else:
            length = int(headers.get("content-length", "0"))
            body, position = raw[position : position + length], position + length
        yield HttpMessage(start, headers, body)


def dechunk(raw: bytes, position: int) -> tuple[bytes, int]:
    """The body of a chunked message from `position`, and where the next message starts."""
    body = bytearray()
    while (eol := raw.find(b"\r\n", position)) >= 0:
        size = int(raw[position:eol].split(b";")[0], 16)
        position = eol + 2
        if size == 0:
            trailer_end = raw.find(b"\r\n\r\n", position - 2)
            return bytes(body), len(raw) if trailer_end < 0 else trailer_end + 4
        body += raw[position : position + size]
        position += size + 2
    return bytes(body), len(raw)
