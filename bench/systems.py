"""The SSE servers under test, each started in its own process group and stopped by us.

    ours    `python -m server`, its worker replaced by `bench.emitter` (VERITAS_WORKER_COMMAND)
    nchan   nginx + Nchan, fed by `bench.publisher`
    hub     `bench.hub` (aiohttp + aiohttp-sse, a queue per subscriber), fed by `bench.publisher`

A `System` starts the server, opens one stream (`prepare`, returning the subscriber
path), starts its events (`go`), and knows which processes are the server, for CPU and RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final, Protocol

from bench import nchan
from bench.proc import children, cpu_seconds, rss_bytes

ROOT: Final = Path(__file__).resolve().parent.parent
START_TIMEOUT: Final = 30.0
STOP_GRACE: Final = 5.0
START_ATTEMPTS: Final = 3  # a free port can be taken by another process before the server binds
SETTLE_SECONDS: Final = 0.05  # a server that lost its port exits at once


class System(Protocol):
    name: str

    def server_pids(self) -> list[int]: ...
    async def prepare(self) -> str: ...
    async def go(self) -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu(system: System) -> float:
    return sum(cpu_seconds(pid) for pid in system.server_pids())


def rss(system: System) -> int:
    return sum(rss_bytes(pid) for pid in system.server_pids())


async def wait_for_port(port: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT} s")


@contextlib.asynccontextmanager
async def process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child in its own process group; SIGTERM, grace, then SIGKILL of the group on exit."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        yield proc
    finally:
        await stop(proc)


async def stop(proc: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
            break
        except TimeoutError:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group (a worker)


@contextlib.asynccontextmanager
async def listening(
    make_argv: Callable[[int], list[str]], log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """A server on a free port; a fresh port and a new start if another process took it."""
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        async with process(make_argv(port), log, env) as proc:
            try:
                await wait_for_port(port, proc)
                await asyncio.sleep(SETTLE_SECONDS)
                if proc.returncode is not None:
                    raise RuntimeError(f"server exited with {proc.returncode} after starting")
            except RuntimeError:
                if attempt + 1 == START_ATTEMPTS:
                    raise
                continue
            yield proc, port
            return


async def http(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request on 127.0.0.1 with `Connection: close`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    data = await asyncio.wait_for(reader.read(), START_TIMEOUT)
    writer.close()
    await writer.wait_closed()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


class Ours:
    name = "ours"

    def __init__(self, proc: asyncio.subprocess.Process, port: int, start_file: Path) -> None:
        self.proc = proc
        self.port = port
        self.start_file = start_file

    def server_pids(self) -> list[int]:
        return [self.proc.pid]

    async def prepare(self) -> str:
        body = json.dumps({"url": "http://127.0.0.1:9/", "ipc": "pipe"}).encode()
        status, answer = await http(self.port, "POST", "/audits", body)
        if status != 202:
            raise RuntimeError(f"POST /audits answered {status}: {answer[:200]!r}")
        return str(json.loads(answer)["events_url"])

    async def go(self) -> None:
        self.start_file.touch()


@contextlib.asynccontextmanager
async def ours(
    folder: Path, events: int, rate: float, store: str = "durable", loop: str = "asyncio"
) -> AsyncIterator[Ours]:
    """`store`: "durable" (SQLite, events visible once committed: the server's default),
    "durable-normal" (the same with `synchronous=NORMAL`: no fsync per commit, so safe from
    a killed process but not from power loss), "early" (SQLite, events visible before
    their commit: the design before group commit), "memory" (no store). `loop`: the
    server's `--loop`."""
    start_file = folder / "go"
    emitter = f"{sys.executable} -m bench.emitter --count {events} --rate {rate}"
    env = {
        **os.environ,
        "VERITAS_WORKER_COMMAND": f"{emitter} --start-file {start_file}",
        "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
        "VERITAS_DURABLE_VISIBILITY": "0" if store == "early" else "1",
        "VERITAS_STORE_SYNCHRONOUS": "NORMAL" if store == "durable-normal" else "FULL",
        "PYTHONPATH": str(ROOT),
        "VERITAS_LOOP": loop,
    }
    data_dir = "" if store == "memory" else str(folder / "data")

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", data_dir]  # fmt: skip

    async with listening(argv, folder / "ours.log", env) as (proc, port):
        try:
            yield Ours(proc, port, start_file)
        finally:
            start_file.touch()  # a waiting emitter goes on, finds its pipe closed, and exits


class Published:
    """A hub fed over HTTP by `bench.publisher`."""

    def __init__(
        self, name: str, proc: asyncio.subprocess.Process, port: int, folder: Path
    ) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.folder = folder
        self.events = 0
        self.rate = 0.0
        self._stack = contextlib.AsyncExitStack()

    def server_pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    async def prepare(self) -> str:
        return "/sub"

    async def go(self) -> None:
        argv = [sys.executable, "-m", "bench.publisher", "--port", str(self.port)]
        argv += ["--count", str(self.events), "--rate", str(self.rate)]
        await self._stack.enter_async_context(process(argv, self.folder / "publisher.log"))

    async def close(self) -> None:
        await self._stack.aclose()


@contextlib.asynccontextmanager
async def hub(folder: Path, events: int, rate: float) -> AsyncIterator[Published]:
    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "bench.hub", "--port", str(port)]

    async with listening(argv, folder / "hub.log") as (proc, port):
        system = Published("hub", proc, port, folder)
        system.events, system.rate = events, rate
        try:
            yield system
        finally:
            await system.close()


@contextlib.asynccontextmanager
async def nginx(
    folder: Path, events: int, rate: float, connections: int
) -> AsyncIterator[Published]:
    binary = nchan.nginx_binary()
    if binary is None:
        raise RuntimeError("nginx with the Nchan module is not installed")

    def argv(port: int) -> list[str]:
        conf = nchan.write_config(folder / "nginx", port, connections)
        return nchan.command(binary, folder / "nginx", conf)

    async with listening(argv, folder / "nginx.log") as (proc, port):
        system = Published("nchan", proc, port, folder)
        system.events, system.rate = events, rate
        try:
            yield system
        finally:
            await system.close()
