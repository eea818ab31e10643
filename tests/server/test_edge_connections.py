"""Slow and idle clients: head and idle deadlines, the connection limit, and streams that last."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from server.config import ServerConfig
from tests.server.edge_site import edge_site, exchange, split_response
from tests.server.harness import TARGET, service_config, until
from tests.server.server_process import ROOT, ServerProcess

HEAD_START = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def quick_deadlines(**overrides: object) -> ServerConfig:
    options: dict[str, object] = {"port": 0, "header_timeout": 0.5, "idle_timeout": 0.5}
    return service_config(**{**options, **overrides})


async def closed_by_server(reader: asyncio.StreamReader, seconds: float = 20.0) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    async with asyncio.timeout(seconds):
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
    return True


async def dribble(writer: asyncio.StreamWriter, every: float) -> None:
    """One header line every `every` seconds, never the blank line that ends the head."""
    number = 0
    with contextlib.suppress(ConnectionError):
        writer.write(HEAD_START)
        while not writer.is_closing():
            await writer.drain()
            await asyncio.sleep(every)
            number += 1
            writer.write(f"X-Slow-{number}: a\r\n".encode())


async def test_a_head_sent_one_line_at_a_time_is_cut_at_the_header_deadline() -> None:
    async with edge_site(quick_deadlines(idle_timeout=60.0)) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        async with asyncio.TaskGroup() as group:
            slow = group.create_task(dribble(writer, 0.1))
            assert await closed_by_server(reader)
            writer.close()
            slow.cancel()
        assert site.connections.timed_out == 1


async def test_a_connection_that_never_sends_is_cut_at_the_header_deadline() -> None:
    async with edge_site(quick_deadlines(idle_timeout=60.0)) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        assert await closed_by_server(reader)
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_reused() -> None:
    async with edge_site(quick_deadlines(header_timeout=60.0)) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        for _ in range(3):  # back to back: the same connection serves each
            writer.write(HEAD_START + b"\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status, headers, _ = split_response(head)
            assert status == 200
            await reader.readexactly(int(headers["content-length"]))
        assert await closed_by_server(reader)
        writer.close()


async def test_an_event_stream_outlives_the_header_and_idle_deadlines() -> None:
    config = service_config(
        "sleep", port=0, header_timeout=0.3, idle_timeout=0.3, ping_interval=0.1
    )
    async with edge_site(config) as site, aiohttp.ClientSession() as session:
        async with session.post(f"{site.base}/audits", json={"url": TARGET}) as response:
            audit_id = (await response.json())["id"]
        async with session.get(f"{site.base}/audits/{audit_id}/events") as stream:
            pings = 0
            async with asyncio.timeout(30):
                while pings < 15:  # 1.5 s of pings: five times each deadline
                    line = await stream.content.readline()
                    assert line, "the stream ended"
                    pings += line.startswith(b": ping")
            await session.delete(f"{site.base}/audits/{audit_id}")
        assert site.connections.timed_out == 0


async def test_past_the_limit_a_newcomer_takes_the_place_of_the_oldest_idle_one() -> None:
    async with edge_site(quick_deadlines(header_timeout=60.0, idle_timeout=60.0), 4) as site:
        idle = [await asyncio.open_connection("127.0.0.1", site.port) for _ in range(4)]

        async def all_open() -> bool:
            return site.connections.open == 4

        await until(all_open, 10)
        raw = await exchange(site.port, HEAD_START + b"Connection: close\r\n\r\n")
        assert split_response(raw)[0] == 200
        assert await closed_by_server(idle[0][0])
        assert site.connections.evicted == 1
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{site.base}/healthz") as response,
        ):
            counts = (await response.json())["connections"]
        # The first newcomer has gone (Connection: close), so this one found a free place.
        assert (counts["limit"], counts["evicted"], counts["refused"]) == (4, 1, 0)
        for _, writer in idle:
            writer.close()


async def test_when_every_place_is_inside_a_request_a_newcomer_gets_a_json_503() -> None:
    config = service_config("sleep", port=0)
    async with edge_site(config, 2) as site, aiohttp.ClientSession() as session:
        streams = []
        for _ in range(2):
            async with session.post(f"{site.base}/audits", json={"url": TARGET}) as response:
                audit_id = (await response.json())["id"]
            streams.append(await session.get(f"{site.base}/audits/{audit_id}/events"))
        # Two streams hold both places (the POSTs' connections were reused by the streams).
        raw = await exchange(site.port, HEAD_START + b"\r\n")
        status, headers, body = split_response(raw)
        assert (status, headers["content-type"].startswith("application/json")) == (503, True)
        assert json.loads(body)["error"]["code"] == "too_many_connections"
        for stream in streams:
            stream.close()


class LimitedServer(ServerProcess):
    """`python -m server` under a descriptor limit of `files`."""

    def __init__(self, data_dir: Path, files: int) -> None:
        super().__init__(data_dir, {})
        self.files = files

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        self.before_exec = limit


@contextlib.asynccontextmanager
async def limited_server(data_dir: Path, files: int) -> AsyncIterator[ServerProcess]:
    server = LimitedServer(data_dir, files)
    try:
        await server.start()
        yield server
    finally:
        await server.ensure_stopped()


async def slow_client(port: int, every: float) -> None:
    """A slowloris connection, reopened each time the server closes it."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(every)
            continue
        try:
            await dribble(writer, every)
        finally:
            writer.close()
        await asyncio.sleep(every)


async def healthz(base: str) -> int:
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{base}/healthz") as response,
    ):
        assert (await response.json())["status"] == "ok"
        return response.status


SLOW_SOCKETS = 320  # more than the server's whole descriptor limit
FILES = 256


async def test_healthz_answers_under_more_slow_sockets_than_the_descriptor_limit(
    tmp_path: Path,
) -> None:
    async with limited_server(tmp_path, FILES) as server, asyncio.TaskGroup() as group:
        slow = [group.create_task(slow_client(server.port, 1.0)) for _ in range(SLOW_SOCKETS)]
        await asyncio.sleep(3)  # every slow socket has connected and sent a few lines
        # Each answer within a generous 20 s; the load stays on throughout.
        answers = [await healthz(server.base) for _ in range(5)]
        for task in slow:
            task.cancel()
    assert answers == [200] * 5
    assert not [line for line in server.stderr_lines() if "Traceback" in line]


def test_a_descriptor_limit_too_low_for_connections_stops_the_server_at_start_up(
    tmp_path: Path,
) -> None:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    done = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        check=False,
    )
    assert done.returncode == 2
    assert "ulimit -n" in done.stderr


def test_the_descriptor_limit_of_this_test_is_below_its_socket_count() -> None:
    assert SLOW_SOCKETS > FILES
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft > SLOW_SOCKETS + 64, "raise ulimit -n"


pytestmark = pytest.mark.timeout(120)
