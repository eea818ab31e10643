"""SIGTERM: workers stopped within the grace, open streams ended, the process gone in bound."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import aiohttp

from tests.protocol.sse_parser import parse
from tests.server.harness import until
from tests.server.server_process import (
    alive,
    body_of,
    get_json,
    kill_workers,
    post_audit,
    read_events,
    running_server,
    worker_command,
    worker_pids,
)

KILL_GRACE = 1.0
SHUTDOWN_TIMEOUT = 3.0
# The bound under test: the worker's grace, the streams' timeout, and room for a busy machine.
BOUND = KILL_GRACE + SHUTDOWN_TIMEOUT + 20.0


async def open_stream(
    session: aiohttp.ClientSession, url: str
) -> tuple[aiohttp.ClientResponse, bytes]:
    """A live subscriber that has seen the audit's first three events."""
    response = await session.get(url)
    assert response.status == 200
    seen = b""
    async with asyncio.timeout(30):
        while len(parse(seen).messages) < 3:
            chunk = await response.content.readany()
            assert chunk
            seen += chunk
    return response, seen


async def test_sigterm_with_open_streams_and_a_stubborn_worker_ends_within_its_bound(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "worker.pid"
    stubborn = worker_command("ignore_term", pid_file=pid_file)
    try:
        async with (
            running_server(
                tmp_path,
                VERITAS_WORKER_COMMAND=stubborn,
                VERITAS_KILL_GRACE=str(KILL_GRACE),
                VERITAS_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
            ) as server,
            aiohttp.ClientSession() as session,
        ):
            audit_id = await post_audit(session, server.base)
            url = f"{server.base}/audits/{audit_id}/events"
            streams = [await open_stream(session, url) for _ in range(3)]
            (worker,) = worker_pids(pid_file)
            server.signal(signal.SIGTERM)
            async with asyncio.timeout(BOUND):
                endings = [seen + await response.content.read() for response, seen in streams]
                status = await server.wait()
            for response, _ in streams:
                response.close()
    finally:
        kill_workers(pid_file)
    assert status == 0
    for stream in endings:
        last = parse(stream).messages[-1]
        assert last.type == "audit_error"
        assert json.loads(last.data)["code"] == "interrupted"
    assert body_of(endings[0]) == body_of(endings[1]) == body_of(endings[2])
    assert not alive(worker), "the worker outlived the server"


async def test_after_sigterm_the_port_no_longer_accepts(tmp_path: Path) -> None:
    async with running_server(tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")) as server:
        assert await server.stop(signal.SIGTERM) == 0
        async with aiohttp.ClientSession() as session:
            try:
                await session.get(f"{server.base}/healthz")
            except aiohttp.ClientConnectionError:
                pass
            else:
                raise AssertionError("the server still answers after SIGTERM")


async def test_sigterm_with_a_subscriber_that_never_reads_ends_within_its_bound(
    tmp_path: Path,
) -> None:
    flood = worker_command("flood", count=60_000)  # a replay of several MiB
    async with running_server(
        tmp_path,
        VERITAS_WORKER_COMMAND=flood,
        VERITAS_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
        VERITAS_SLOW_SUBSCRIBER_DEADLINE="600",  # only the shutdown bound may end the stream
    ) as server:
        async with aiohttp.ClientSession() as session:
            audit_id = await post_audit(session, server.base)
            await read_events(session, server.base, audit_id)
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            stalled.setblocking(False)
            await asyncio.get_running_loop().sock_connect(stalled, ("127.0.0.1", server.port))
            request = f"GET /audits/{audit_id}/events HTTP/1.1\r\nHost: x\r\n\r\n"
            await asyncio.get_running_loop().sock_sendall(stalled, request.encode())
            async with aiohttp.ClientSession() as session:

                async def subscribed() -> bool:
                    health = await get_json(session, f"{server.base}/healthz")
                    return bool(health["subscribers"] == 1)

                await until(subscribed)
            server.signal(signal.SIGTERM)
            async with asyncio.timeout(BOUND):
                status = await server.wait()
        finally:
            stalled.close()
    assert status == 0
