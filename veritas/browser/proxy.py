"""The guarded forward proxy: the browser's only way out, and every request passes the guard.

    async with GuardedProxy(resolver, settings) as proxy:
        ...  # Chromium runs with --proxy-server=proxy.address

Chromium sends plain http requests in absolute form (`GET http://host/path HTTP/1.1`) and
everything else (https, ws, wss) as `CONNECT host:port`. Either way the proxy reads the
host, resolves it once for the whole audit with the auditor's `GuardedResolver` (the same
rules as the fetcher: every address public), and connects to the address it approved, so
DNS rebinding cannot swap the address between the check and the connection. IP literals
are checked as they are, except the literal ADDR:PORT endpoints the operator let through
(`VERITAS_ALLOW_TARGETS`, as the fetcher does). Anything else is refused with 403 and
recorded: other methods of addressing, malformed requests, and requests past the audit's
count or byte limits.

A plain request goes upstream with `Connection: close`, one request per connection, so
the proxy never has to parse a response: it relays bytes and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

from protocol.errors import TargetError, TargetRefused
from protocol.targets import Endpoint, check_addresses, parse_host
from veritas.browser.settings import BrowserSettings
from veritas.resolver import GuardedResolver

REFUSED: Final = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
TUNNEL_OPEN: Final = b"HTTP/1.1 200 Connection Established\r\n\r\n"
HOP_HEADERS: Final = frozenset(
    {b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive", b"te"}
)
CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Refusal:
    target: str  # host:port or URL as the browser asked for it
    reason: str


@dataclass(slots=True)
class ProxyStats:
    requests: int = 0
    refused: int = 0
    bytes_in: int = 0  # bytes from the sites to the browser
    refusals: list[Refusal] = field(default_factory=list)  # the first `max_refusals`


class Denied(Exception):
    """One request refused; the message is the reason recorded."""


class GuardedProxy:
    def __init__(
        self,
        resolver: GuardedResolver,
        settings: BrowserSettings,
        allow_targets: frozenset[Endpoint] = frozenset(),
    ) -> None:
        self.resolver = resolver
        self.settings = settings
        self.allow_targets = allow_targets  # literal private endpoints let through
        self.stats = ProxyStats()
        self._approved: dict[str, str | Denied] = {}  # host -> address, or why it was refused
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def __aenter__(self) -> GuardedProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    # -- one connection from the browser ----------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # owned here: cancelled and awaited when the proxy closes
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # either side went away, or the request never came: nothing to answer
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(
            reader.readuntil(b"\r\n\r\n"), timeout=self.settings.connect_timeout
        )
        if len(head) > self.settings.max_request_head:
            await self._refuse(writer, "?", "request head too large")
            return
        method, target, rest = _request_line(head)
        try:
            host, port, first = self._route(method, target, rest)
            self._count_request()
            address = await self._approve(host, port)
            upstream = await asyncio.wait_for(
                asyncio.open_connection(address, port), timeout=self.settings.connect_timeout
            )
        except Denied as denied:
            await self._refuse(writer, target, str(denied))
            return
        up_reader, up_writer = upstream
        try:
            if first is None:
                writer.write(TUNNEL_OPEN)
            else:
                up_writer.write(first)
            await self._relay(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    def _route(self, method: str, target: str, rest: bytes) -> tuple[str, int, bytes | None]:
        """(host, port, the bytes to send upstream first, or None for a tunnel)."""
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise Denied("CONNECT needs host:port")
            return host.strip("[]"), int(port_text), None
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise Denied(f"only absolute http URLs or CONNECT are relayed, not {target[:80]!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise Denied("bad port") from None
        path = parts.path or "/"
        line = f"{method} {path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
        return parts.hostname, port, line.encode("latin-1") + _forward_headers(rest)

    def _count_request(self) -> None:
        self.stats.requests += 1
        if self.stats.requests > self.settings.max_requests:
            raise Denied(f"the audit's limit of {self.settings.max_requests} requests is reached")

    async def _approve(self, raw_host: str, port: int) -> str:
        """The address to connect to: resolved and checked once per host, then remembered."""
        try:
            host, literal = parse_host(raw_host)
        except TargetError as exc:
            raise Denied(str(exc)) from None
        if literal is not None and (str(literal), port) in self.allow_targets:
            return str(literal)  # judged by endpoint, so never remembered for the host alone
        known = self._approved.get(host)
        if known is None:
            if len(self._approved) >= self.settings.max_hosts:
                raise Denied(f"more than {self.settings.max_hosts} hosts in one audit")
            known = await self._check(host, None if literal is None else str(literal))
            self._approved[host] = known
        if isinstance(known, Denied):
            raise known
        return known

    async def _check(self, host: str, literal: str | None) -> str | Denied:
        try:
            if literal is not None:
                if not self.resolver.allow_private:
                    check_addresses(host, [literal])
                return literal
            results = await asyncio.wait_for(
                self.resolver.resolve(host, 0), timeout=self.settings.connect_timeout
            )
        except TargetRefused as exc:
            return Denied(f"{host} is refused: {exc.reason}")
        except (OSError, TimeoutError) as exc:
            return Denied(f"{host} cannot be resolved: {exc}")
        if not results:
            return Denied(f"{host} has no address")
        return str(results[0]["host"])

    async def _refuse(self, writer: asyncio.StreamWriter, target: str, reason: str) -> None:
        stats = self.stats
        stats.refused += 1
        if len(stats.refusals) < self.settings.max_refusals:
            stats.refusals.append(Refusal(target[:300], reason))
        writer.write(REFUSED)
        with contextlib.suppress(OSError):
            await writer.drain()

    # -- relaying -----------------------------------------------------------------------------

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Bytes both ways until the site is done; the downstream bytes count against the limit."""
        upload = asyncio.create_task(_pipe(reader, up_writer, None))
        try:
            await _pipe(up_reader, writer, self._received)
        finally:
            upload.cancel()
            await asyncio.wait([upload])

    def _received(self, size: int) -> None:
        self.stats.bytes_in += size
        if self.stats.bytes_in > self.settings.max_bytes:
            limit = self.settings.max_bytes
            raise OSError(f"the audit's limit of {limit} bytes through the browser is reached")


async def _pipe(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    count: Callable[[int], None] | None,
) -> None:
    while chunk := await source.read(CHUNK):
        if count is not None:
            count(len(chunk))
        sink.write(chunk)
        await sink.drain()
    if sink.can_write_eof():
        with contextlib.suppress(OSError):
            sink.write_eof()


def _request_line(head: bytes) -> tuple[str, str, bytes]:
    line, _, rest = head.partition(b"\r\n")
    words = line.decode("latin-1").split(" ")
    if len(words) != 3 or not words[2].startswith("HTTP/1."):
        return "", "?", rest
    return words[0].upper(), words[1], rest


def _forward_headers(rest: bytes) -> bytes:
    """The browser's headers without the hop-by-hop ones, plus `Connection: close`."""
    kept = [
        line
        for line in rest.split(b"\r\n")
        if line and line.partition(b":")[0].strip().lower() not in HOP_HEADERS
    ]
    return b"\r\n".join([*kept, b"Connection: close", b"", b""])
