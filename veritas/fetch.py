"""HTTP fetching under limits, toward public addresses only: one URL in, one `Page` out.

    async with Fetcher(limits, allow_private=False) as fetcher:
        page = await fetcher.fetch("https://example.com/")

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
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final
from urllib.parse import urldefrag, urljoin

import aiohttp

from protocol.errors import TargetError, TargetRefused
from protocol.targets import ParsedTarget, check_host, check_url
from veritas.certificate import tls_info
from veritas.config import Limits
from veritas.errors import FetchError, LimitExceeded, RefusedTarget
from veritas.page import Hop, Page, TlsInfo
from veritas.resolver import GuardedResolver

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
USER_AGENT: Final = "Mozilla/5.0 (compatible; VeritasAudit/0.1; +trust audit)"
ACCEPT_ENCODING: Final = "gzip, deflate"  # what Inflater decodes under a limit


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
    headers: tuple[tuple[str, str], ...]
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
    """One aiohttp session for one audit, with the guard as its resolver."""

    def __init__(
        self, limits: Limits, allow_private: bool, resolver: GuardedResolver | None = None
    ) -> None:
        self.limits = limits
        self.allow_private = allow_private
        self.resolver = resolver or GuardedResolver(allow_private)
        self._session: aiohttp.ClientSession | None = None
        self._insecure = ssl.create_default_context()
        self._insecure.check_hostname = False
        self._insecure.verify_mode = ssl.CERT_NONE

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            resolver=self.resolver, limit=self.limits.fetch_concurrency * 2, ttl_dns_cache=300
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
        try:
            target = check_url(url)
            if not self.allow_private:
                check_host(target)
        except TargetRefused as exc:
            raise RefusedTarget(url, str(exc)) from exc
        except TargetError as exc:
            raise FetchError(url, str(exc)) from exc
        return target

    async def fetch(self, url: str) -> Page:
        """Follow redirects by hand within the page's time limit; the final response's page."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.limits.page_timeout
        hops: list[Hop] = []
        seen = {urldefrag(url).url}
        current = url
        while True:
            self.check(current)
            response = await self._response(current, deadline)
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
        target = urljoin(current, location)
        key = urldefrag(target).url
        if not target.startswith(("http://", "https://")):
            return f"redirect to a non-http URL {target!r} was not followed", target
        if key in seen:
            return f"redirect loop: {target} was already visited after {count} redirects", target
        if count > self.limits.max_redirects:
            return f"more than {self.limits.max_redirects} redirects; stopped at {current}", target
        seen.add(key)
        return None, target

    async def preflight(self, url: str, origin: str) -> Page:
        """One CORS preflight (OPTIONS with an Origin), its redirects not followed."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.limits.page_timeout
        self.check(url)
        headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
        response = await self._response(url, deadline, "OPTIONS", headers)
        return _page(url, response, [], started)

    async def _response(
        self, url: str, deadline: float, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Response:
        try:
            try:
                return await self._attempt(url, deadline, None, method, headers)
            except aiohttp.ClientConnectorCertificateError as exc:
                # Fetch again without verification, only to read the certificate and say why.
                error = str(exc.certificate_error)
                return await self._attempt(url, deadline, error, method, headers)
        except (aiohttp.ClientError, OSError, TargetRefused, ValueError) as exc:
            raise _translate(url, exc, self.limits) from exc

    async def _attempt(
        self,
        url: str,
        deadline: float,
        verify_error: str | None,
        method: str = "GET",
        extra: dict[str, str] | None = None,
    ) -> Response:
        assert self._session is not None, "use Fetcher as an async context manager"
        ssl_option: ssl.SSLContext | bool = True if verify_error is None else self._insecure
        async with asyncio.timeout_at(deadline):
            response = await self._session.request(
                method, url, headers=extra, allow_redirects=False, ssl=ssl_option
            )
        try:
            tls, ip = _connection_facts(response, verify_error)
            redirect = response.status in REDIRECT_STATUSES and "location" in response.headers
            body = Body() if redirect else await self._read(response, deadline)
            headers = tuple((k, v) for k, v in response.headers.items())
            return Response(str(url), response.status, headers, body, tls, ip)
        finally:
            response.release()

    async def _read(self, response: aiohttp.ClientResponse, deadline: float) -> Body:
        body = Body()
        limit = self.limits.max_page_bytes
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
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
    """Every foreign failure of one request, as the auditor's own error."""
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, TargetRefused):
        return RefusedTarget(url, str(exc))
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return LimitExceeded(
            url, f"no response within the page time limit ({limits.page_timeout:g} s)"
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(url, f"cannot resolve the host: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(url, f"cannot connect: {exc.os_error.strerror or exc.os_error}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return LimitExceeded(url, f"response refused while reading headers: {exc.message:.200}")
    return FetchError(url, f"{type(exc).__name__}: {exc}")
