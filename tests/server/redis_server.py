"""A real `redis-server` for the tests: Debian's binary, in the foreground, on a free loopback port.

No persistence (no RDB, no AOF) unless asked: a test that restarts it gets an empty Redis,
which is exactly the "restarted without persistence" case. Stopped (SIGTERM, then SIGKILL)
when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.server.server_process import free_port

BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One redis-server process; `url` names database 0 on it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if shutil.which(BINARY) is None:
            pytest.fail("redis-server is missing: `make test-deps` installs it")
        log = (self.directory / "redis.log").open("ab")
        with log:
            self.process = await asyncio.create_subprocess_exec(
                BINARY,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--maxmemory-policy",
                "noeviction",
                stdout=log.fileno(),
                stderr=log.fileno(),
            )
        await self._ready()

    async def _ready(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        try:
            async with asyncio.timeout(20):
                while True:
                    with contextlib.suppress(OSError, aioredis.ConnectionError):
                        if await client.ping():
                            return
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def restart(self) -> None:
        """Kill it (nothing saved) and start it again on the same port: an empty Redis."""
        if self.process is not None:
            self.process.kill()
            await self.process.wait()
            self.process = None
        await self.start()


@contextlib.asynccontextmanager
async def redis_server(directory: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
