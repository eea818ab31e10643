"""SIGTERM: workers stopped within the grace, open streams ended, the process gone in bound."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp

from tests.protocol.sse_parser import parse
from tests.server.server_process import (
    alive,
    body_of,
    kill_workers,
    post_audit,
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
