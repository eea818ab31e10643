"""HTTP fetching under limits, toward public addresses only: one URL in, one `Page` out.

    async with Fetcher(limits, allow_private=False) as fetcher:
        page = await fetcher.fetch("https://example.com/")

The guard, at every hop: the host is read once as the HTTP client reads it (yarl's URL), a
literal address is checked and approved here, a name by the resolver, and the socket
factory refuses any address neither approved (`veritas.resolver`).

Everything a target sends is text only after one decoding here: header names and values
from their raw bytes (UTF-8, else ISO-8859-1), so no lone surrogate reaches an event.

Limits, all from `veritas.config.Limits`: connect time, time per page (redirects included),
body bytes counted after decompression, redirects (followed by hand, every hop recorded and
checked, loops detected), response header size and count. A limit that cuts a body short
still yields a `Page`, marked `truncated`, its `errors` saying which limit; a failure that
leaves nothing to analyse raises `FetchError`. aiohttp and OSError exceptions are turned
into `veritas.errors` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final
from urllib.parse import urldefrag, urljoin

import aiohttp
from yarl import URL

from protocol.errors import TargetError, TargetRefused
from protocol.targets import (
    ConnectTo,
    Endpoint,
    ParsedTarget,
    check_addresses,
    check_host,
    check_url,
    is_allowed_endpoint,
)
from protocol.targets import parse_host as read_host
from veritas.certificate import tls_info
from veritas.config import Config, Limits
from veritas.errors import FetchError, LimitExceeded, RefusedTarget
from veritas.page import Hop, Page, TlsInfo
from veritas.resolver import GuardedResolver, GuardRefusal

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
USER_AGENT: Final = "Mozilla/5.0 (compatible; VeritasAudit/0.1; +trust audit)"
ACCEPT_ENCODING: Final = "gzip, deflate"  # what Inflater decodes under a limit
Headers = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Body:
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response, before the redirect logic decides what it means."""

    url: str
    status: int
    headers: Headers
    body: Body
    tls: TlsInfo | None
    ip: str | None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


class Inflater:
    """Content-Encoding decoding that never produces more than it is asked for."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)
        self._raw_fallback = encoding == "deflate"  # servers send raw deflate as often as zlib

    def feed(self, data: bytes, room: int) -> bytes:
        """At most `room + 1` bytes: one more than fits tells the caller the limit is hit."""
        try:
            return self._zlib.decompress(data, room + 1)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._zlib.decompress(data, room + 1)


class Fetcher:
    """One aiohttp session for one audit, with the guard as its resolver and socket factory.

    `connect_to` rules send connections for a host elsewhere (as curl's `--connect-to`);
    `ca_file` replaces the system's trusted certificates (as curl's `--cacert`).
    """

    def __init__(
        self,
        limits: Limits,
        allow_private: bool,
        resolver: GuardedResolver | None = None,
        *,
        connect_to: Sequence[ConnectTo] = (),
        ca_file: Path | None = None,
        allow_targets: frozenset[Endpoint] = frozenset(),
    ) -> None:
        self.limits = limits
        self.allow_private = allow_private
        self.allow_targets = allow_targets  # literal private endpoints let through
        self.resolver = resolver or GuardedResolver(allow_private, connect_to=connect_to)
        self._session: aiohttp.ClientSession | None = None
        # With a cafile the system's authorities are not loaded: only the given ones count.
        self._verified = ssl.create_default_context(cafile=ca_file)
        self._insecure = ssl.create_default_context()
        self._insecure.check_hostname = False
        self._insecure.verify_mode = ssl.CERT_NONE

    @classmethod
    def for_config(cls, config: Config) -> Fetcher:
        return cls(
            config.limits,
            config.allow_private,
            connect_to=config.connect_to,
            ca_file=config.ca_file,
            allow_targets=config.allow_targets,
        )

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            resolver=self.resolver,
            socket_factory=self.resolver.open_socket,
            ssl=self._verified,
            limit=self.limits.fetch_concurrency * 2,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            max_line_size=self.limits.max_header_size,
            max_field_size=self.limits.max_header_size,
            max_headers=self.limits.max_headers,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.limits.connect_timeout,
                sock_connect=self.limits.connect_timeout,
            ),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def resolve(self, url: str) -> list[str]:
        """The checked addresses of a URL's host (its literal address for an IP)."""
        target = self.check(url)
        if target.address is not None:
            return [str(target.address)]
        try:
            results = await self.resolver.resolve(target.host, target.port)
        except TargetRefused as exc:
            raise RefusedTarget(url, str(exc)) from exc
        except OSError as exc:
            raise FetchError(url, str(exc)) from exc
        return list(dict.fromkeys(r["host"] for r in results))

    def check(self, url: str) -> ParsedTarget:
        """Syntax always; the address rules unless private targets are allowed."""
        return self._guard(url)[0]

    def _guard(self, url: str) -> tuple[ParsedTarget, URL]:
        """The target and the very URL the client will request, its host judged as both of
        us read it; a literal address is approved for the socket factory only here."""
        try:
            target = check_url(url)
            request = URL(target.url)
            readings = {target.address, read_host(request.raw_host or "")[1]} - {None}
            if not self.allow_private and not is_allowed_endpoint(target, self.allow_targets):
                check_host(target)
                if readings:
                    check_addresses(target.host, [str(a) for a in readings])
        except TargetRefused as exc:
            raise RefusedTarget(url, str(exc)) from exc
        except (TargetError, ValueError) as exc:
            raise FetchError(url, str(exc)) from exc
        self.resolver.approve(str(a) for a in readings)
        return target, request

    async def fetch(self, url: str) -> Page:
        """Follow redirects by hand within the page's time limit; the final response's page."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.limits.page_timeout
        hops: list[Hop] = []
        seen = {urldefrag(url).url}
        current = url
        while True:
            _, request = self._guard(current)
            response = await self._response(current, request, deadline)
            location = response.header("location")
            if response.status not in REDIRECT_STATUSES or location is None:
                return _page(url, response, hops, started)
            hops.append(Hop(current, response.status, location))
            problem, current = self._next_hop(current, location, seen, len(hops))
            if problem is not None:
                # The page is this last 3xx response; the hops before it are its chain.
                response.body.errors.append(problem)
                return _page(url, response, hops[:-1], started)

    def _next_hop(
        self, current: str, location: str, seen: set[str], count: int
    ) -> tuple[str | None, str]:
        try:
            target = urljoin(current, location.strip())
            key = urldefrag(target).url
        except ValueError as exc:
            return f"redirect to an unusable Location {location[:200]!r} ({exc})", current
        if not target.startswith(("http://", "https://")):
            return f"redirect to a non-http URL {target[:200]!r} was not followed", target
        if key in seen:
            return f"redirect loop: {target} was already visited after {count} redirects", target
        if count > self.limits.max_redirects:
            return f"more than {self.limits.max_redirects} redirects; stopped at {current}", target
        try:
            check_url(target)
        except TargetRefused:
            pass  # a refusal ends the fetch: the next hop's guard raises it
        except TargetError as exc:
            return f"redirect to an unusable Location {location[:200]!r} ({exc})", target
        seen.add(key)
        return None, target

    async def preflight(self, url: str, origin: str) -> Page:
        """One CORS preflight (OPTIONS with an Origin), its redirects not followed."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.limits.page_timeout
        _, request = self._guard(url)
        headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
        response = await self._response(url, request, deadline, "OPTIONS", headers)
        return _page(url, response, [], started)

    async def _response(
        self,
        url: str,
        request: URL,
        deadline: float,
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> Response:
        try:
            try:
                return await self._attempt(
                    url, request, deadline, None, method=method, extra=headers
                )
            except aiohttp.ClientConnectorCertificateError as exc:
                # Fetch again without verification, only to read the certificate and say why.
                error = str(exc.certificate_error)
                return await self._attempt(
                    url, request, deadline, error, method=method, extra=headers
                )
        except (aiohttp.ClientError, OSError, TargetRefused, ValueError) as exc:
            raise _translate(url, exc, self.limits) from exc

    async def _attempt(
        self,
        url: str,
        request: URL,
        deadline: float,
        verify_error: str | None,
        *,
        method: str = "GET",
        extra: dict[str, str] | None = None,
    ) -> Response:
        assert self._session is not None, "use Fetcher as an async context manager"
        ssl_option = self._verified if verify_error is None else self._insecure
        async with asyncio.timeout_at(deadline):
            response = await self._session.request(
                method, request, headers=extra, allow_redirects=False, ssl=ssl_option
            )
        try:
            tls, ip = _connection_facts(response, verify_error)
            headers = decode_headers(response.raw_headers)
            redirect = response.status in REDIRECT_STATUSES and "location" in response.headers
            body = Body() if redirect else await self._read(response, headers, deadline)
            return Response(url, response.status, headers, body, tls, ip)
        finally:
            response.release()

    async def _read(
        self, response: aiohttp.ClientResponse, headers: Headers, deadline: float
    ) -> Body:
        body = Body()
        limit = self.limits.max_page_bytes
        sent = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        encoding = sent.strip().lower()
        inflater = Inflater(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
        if encoding not in ("", "identity") and inflater is None:
            body.errors.append(f"Content-Encoding {encoding!r} is not decoded; body kept as sent")
        try:
            async with asyncio.timeout_at(deadline):
                async for chunk in response.content.iter_any():
                    data = inflater.feed(chunk, limit - len(body.data)) if inflater else chunk
                    if len(body.data) + len(data) > limit:
                        body.data += data[: limit - len(body.data)]
                        body.truncated = True
                        body.errors.append(_too_big(limit, inflater is not None))
                        break
                    body.data += data
        except TimeoutError:
            body.truncated = True
            seconds = self.limits.page_timeout
            body.errors.append(
                f"page time limit of {seconds:g} s reached after {len(body.data)} bytes"
            )
        except (aiohttp.ClientError, zlib.error) as exc:
            body.truncated = True
            body.errors.append(f"body incomplete: {exc}")
        return body


def decode_headers(raw: Sequence[tuple[bytes, bytes]]) -> Headers:
    """Header names and values as text, decoded once from the bytes the target sent."""
    return tuple((decode_field(name), decode_field(value)) for name, value in raw)


def decode_field(data: bytes) -> str:
    """UTF-8 when it is valid, else ISO-8859-1 (HTTP's historical charset): never fails,
    never yields a surrogate."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _too_big(limit: int, compressed: bool) -> str:
    if compressed:
        return (
            f"body exceeds {limit} bytes after decompression (a decompression bomb?);"
            " stopped reading at the limit"
        )
    return f"body exceeds the limit of {limit} bytes; stopped reading"


def _connection_facts(
    response: aiohttp.ClientResponse, verify_error: str | None
) -> tuple[TlsInfo | None, str | None]:
    transport = _transport(response)
    if transport is None:
        return None, None
    peer = transport.get_extra_info("peername")
    ip = str(peer[0]) if isinstance(peer, tuple) and peer else None
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None, ip
    host = response.url.raw_host or ""
    return tls_info(ssl_object, host, verify_error), ip


def _transport(response: aiohttp.ClientResponse) -> asyncio.BaseTransport | None:
    if response.connection is not None:
        return response.connection.transport
    # A body that arrived with the headers has already released its connection to the pool;
    # the protocol it came on still holds the transport and its TLS facts.
    protocol = getattr(response, "_protocol", None)
    transport = getattr(protocol, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


def _page(url: str, response: Response, hops: list[Hop], started: float) -> Page:
    return Page(
        url=url,
        final_url=response.url,
        status=response.status,
        headers=response.headers,
        body=bytes(response.body.data),
        truncated=response.body.truncated,
        redirects=tuple(hops),
        tls=response.tls,
        ip=response.ip,
        elapsed=time.monotonic() - started,
        errors=tuple(response.body.errors),
    )


def _translate(url: str, exc: Exception, limits: Limits) -> FetchError:
    """Every foreign failure of one request, as the auditor's own error naming the limit hit."""
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, TargetRefused):
        return RefusedTarget(url, str(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        seconds = limits.connect_timeout
        return LimitExceeded(url, f"no connection within the connect timeout ({seconds:g} s)")
    if isinstance(exc, TimeoutError):
        return LimitExceeded(
            url, f"no response within the page time limit ({limits.page_timeout:g} s)"
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(url, f"cannot resolve the host: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, GuardRefusal) or "guard did not approve" in str(exc):
            return RefusedTarget(url, str(exc.os_error))
        return FetchError(url, f"cannot connect: {exc.os_error.strerror or exc.os_error}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return LimitExceeded(url, f"response refused while reading headers: {exc.message:.200}")
    return FetchError(url, f"{type(exc).__name__}: {exc}")
