"""Event streams detached from aiohttp once their head is sent, as `python -m server` serves them.

The connection handler gives the socket to a `DetachedStream` (server/streaming/detached.py):
these tests check that such a stream keeps every promise of an event stream (framing, resume,
pings, the terminal event, the slow-client cut, shutdown) and is counted as a connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from server.api.app import create_app
from server.api.connections import Connections
from server.api.serving import start_site
from tests.server.edge_site import EdgeSite, edge_site, split_response
from tests.server.harness import TARGET, TERMINAL, event_data, ids, messages, service_config, until

# The aiohttp versions whose request handler lets go of a connection as `detach` expects:
# it treats a handler left without a transport as a client that left. A new version must
# be checked against `GuardedHandler.detach` and `start` before it is added here.
CHECKED_AIOHTTP = ("3.14",)


def test_aiohttp_is_a_version_detach_was_checked_against() -> None:
    version = ".".join(aiohttp.__version__.split(".")[:2])
    assert version in CHECKED_AIOHTTP, (
        f"aiohttp {aiohttp.__version__}: check GuardedHandler.detach against its "
        "RequestHandler.start and finish_response, then add the version to CHECKED_AIOHTTP"
    )


async def post_audit(session: aiohttp.ClientSession, site: EdgeSite) -> str:
    async with session.post(f"{site.base}/audits", json={"url": TARGET}) as response:
        assert response.status == 202
        audit_id = (await response.json())["id"]
        assert isinstance(audit_id, str)
        return audit_id


async def raw_stream(port: int, path: str, headers: str = "") -> bytes:
    """Everything the server sends for one GET, read until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        async with asyncio.timeout(30):
            return await reader.read()
    finally:
        writer.close()


def dechunk(body: bytes) -> bytes:
    """The chunked body's payload; fails on any framing error or a missing last chunk."""
    payload = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n", f"bytes after the last chunk: {body!r}"
            return payload
        assert body[size : size + 2] == b"\r\n", "a chunk is not followed by CRLF"
        payload += body[:size]
        body = body[size + 2 :]


@pytest.fixture
async def finished_site() -> AsyncIterator[tuple[EdgeSite, str]]:
    async with edge_site(service_config("normal", port=0)) as site:
        async with aiohttp.ClientSession() as session:
            audit_id = await post_audit(session, site)
            async with session.get(f"{site.base}/audits/{audit_id}/events") as stream:
                await stream.read()
        yield site, audit_id


async def test_a_detached_stream_is_well_framed_and_ends_with_the_terminal_event_and_a_close(
    finished_site: tuple[EdgeSite, str],
) -> None:
    site, audit_id = finished_site
    raw = await raw_stream(site.port, f"/audits/{audit_id}/events")
    status, headers, body = split_response(raw)
    assert (status, headers["transfer-encoding"], headers["connection"]) == (
        200,
        "chunked",
        "close",
    )
    found = messages(dechunk(body))
    assert ids(found) == list(range(1, len(found) + 1))
    assert found[-1].type in TERMINAL
    assert site.connections.streams == 0


async def test_an_http_1_0_stream_is_unframed_and_ends_with_the_close(
    finished_site: tuple[EdgeSite, str],
) -> None:
    site, audit_id = finished_site
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    try:
        writer.write(f"GET /audits/{audit_id}/events HTTP/1.0\r\n\r\n".encode())
        async with asyncio.timeout(30):
            raw = await reader.read()
    finally:
        writer.close()
    status, headers, body = split_response(raw)
    assert (status, "transfer-encoding" in headers) == (200, False)
    found = messages(body)
    assert ids(found) == list(range(1, len(found) + 1))
    assert found[-1].type in TERMINAL


async def test_a_detached_stream_resumes_after_last_event_id(
    finished_site: tuple[EdgeSite, str],
) -> None:
    site, audit_id = finished_site
    path = f"/audits/{audit_id}/events"
    whole = messages(dechunk(split_response(await raw_stream(site.port, path))[2]))
    for after in (1, len(whole) // 2, len(whole) - 1):
        raw = await raw_stream(site.port, path, f"Last-Event-ID: {after}\r\n")
        rest = messages(dechunk(split_response(raw)[2]))
        assert [(m.last_event_id, m.type, m.data) for m in rest] == [
            (m.last_event_id, m.type, m.data) for m in whole[after:]
        ]


async def test_a_stream_is_counted_as_a_connection_and_gets_pings_while_detached() -> None:
    config = service_config("sleep", port=0, ping_interval=0.05)
    app = create_app(config)
    runner, site = await start_site(app, config)
    base = f"http://127.0.0.1:{site.port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/audits", json={"url": TARGET}) as response:
                audit_id = (await response.json())["id"]
            async with session.get(f"{base}/audits/{audit_id}/events") as stream:
                pings = 0
                async with asyncio.timeout(30):
                    while pings < 3:
                        line = await stream.content.readline()
                        assert line, "the stream ended"
                        pings += line.startswith(b": ping")
                assert site.connections.streams == 1
                assert runner.server is not None
                # aiohttp holds no connection handler for the stream any more.
                assert runner.server.connections == []
                async with session.get(f"{base}/healthz") as response:
                    health = await response.json()
                assert health["subscribers"] == 1
                # The stream and this request's own connection.
                assert health["connections"]["open"] == 2
            await session.delete(f"{base}/audits/{audit_id}")
    finally:
        await runner.cleanup()


async def test_a_client_that_leaves_frees_its_detached_stream_before_any_ping() -> None:
    config = service_config("sleep", port=0, ping_interval=3600.0)
    async with edge_site(config) as site, aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, site)
        async with session.get(f"{site.base}/audits/{audit_id}/events") as stream:
            await stream.content.readline()  # the opening comment
            await until(lambda: has_stream(site.connections))

        async def left() -> bool:
            async with session.get(f"{site.base}/healthz") as response:
                subscribed = (await response.json())["subscribers"]
            return subscribed == 0 and site.connections.streams == 0

        await until(left)
        await session.delete(f"{site.base}/audits/{audit_id}")


async def test_a_detached_stream_whose_client_stops_reading_is_cut() -> None:
    config = service_config(
        "flood", port=0, worker_options={"count": 60_000}, slow_subscriber_deadline=0.5
    )
    async with edge_site(config) as site, aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, site)
        async with session.get(f"{site.base}/audits/{audit_id}/events") as stream:
            await stream.read()  # a replay of several MiB from here on
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        try:
            loop = asyncio.get_running_loop()
            await loop.sock_connect(stalled, ("127.0.0.1", site.port))
            request = f"GET /audits/{audit_id}/events HTTP/1.1\r\nHost: x\r\n\r\n"
            await loop.sock_sendall(stalled, request.encode())

            async def dropped() -> bool:
                async with session.get(f"{site.base}/healthz") as response:
                    health = await response.json()
                closed = (health["subscribers"], health["slow_subscribers_closed"]) == (0, 1)
                return closed and site.connections.streams == 0

            await until(dropped)
        finally:
            stalled.close()


async def test_shutdown_ends_a_detached_stream_with_its_terminal_event() -> None:
    config = service_config("sleep", port=0)
    async with aiohttp.ClientSession() as session:
        async with edge_site(config) as site:
            audit_id = await post_audit(session, site)
            stream = await session.get(f"{site.base}/audits/{audit_id}/events")
            await until(lambda: has_stream(site.connections))
            reading = asyncio.create_task(stream.read())
            await asyncio.sleep(0)
        # The site has shut down: the stream ended with the audit, and the socket closed.
        async with asyncio.timeout(30):
            body = await reading
        last = messages(body)[-1]
        assert (last.type, event_data(last)["code"]) == ("audit_error", "interrupted")
        assert site.connections.streams == 0
        stream.close()


async def has_stream(connections: Connections) -> bool:
    return connections.streams == 1
