"""The real server as a subprocess (`python -m server`) on a data dir, for restart tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from tests.server.harness import FAKE_WORKER

ROOT = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:9/"  # the fake worker never fetches it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Records each worker's pid (one per line) before becoming the fake worker: `exec` keeps the
# pid, so a test can end workers a SIGKILLed server left behind.
_RECORDER = """import os, sys
with open(sys.argv[1], "a") as file:
    file.write(f"{os.getpid()}\\n")
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def worker_command(behaviour: str, pid_file: Path | None = None, **options: int | str) -> str:
    args = [sys.executable, str(FAKE_WORKER), "--behaviour", behaviour]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    if pid_file is not None:
        recorder = pid_file.with_suffix(".py")
        recorder.write_text(_RECORDER)
        args[1:1] = [str(recorder), str(pid_file)]
    return " ".join(args)


class ServerProcess:
    """One `python -m server` process; `base` is its URL."""

    def __init__(self, data_dir: Path, env: Mapping[str, str]) -> None:
        self.data_dir = data_dir
        self.stderr_path = data_dir / "server.stderr"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "VERITAS_ALLOW_PRIVATE_TARGETS": "1", **env}
        self.process: asyncio.subprocess.Process | None = None
        self.before_exec: Callable[[], None] | None = None  # runs in the child (limits)

    async def start(self) -> None:
        with self.stderr_path.open("ab") as stderr:
            await self._spawn(stderr.fileno())
        await self._ready()

    def stderr_lines(self) -> list[str]:
        return self.stderr_path.read_text(encoding="utf-8").splitlines()

    async def _spawn(self, stderr: int) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            cwd=ROOT,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=self.before_exec,
        )

    async def _ready(self) -> None:
        assert self.process is not None
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)

    async def stop(self, signum: int, limit: float = 60.0) -> int:
        """Send `signum` and wait (at most `limit` seconds) for the exit status."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        async with asyncio.timeout(limit):
            return await self.process.wait()

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, limit: float = 60.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(limit):
            return await self.process.wait()

    async def ensure_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def running_server(data_dir: Path, **env: str) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(data_dir, env)
    try:
        await server.start()
        yield server
    finally:
        await server.ensure_stopped()


def worker_pids(pid_file: Path) -> list[int]:
    try:
        return [int(line) for line in pid_file.read_text().split()]
    except FileNotFoundError:
        return []


def kill_workers(pid_file: Path) -> None:
    """Workers left behind by a SIGKILLed server: end their process groups."""
    for pid in worker_pids(pid_file):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def committed_positions(data_dir: Path, audit_id: str) -> list[int]:
    """What the store has committed for an audit, read from the file by another connection."""
    with contextlib.closing(sqlite3.connect(data_dir / "veritas.sqlite3")) as db:
        rows = db.execute(
            "SELECT position FROM events WHERE audit_id = ? ORDER BY position", (audit_id,)
        ).fetchall()
    return [int(row[0]) for row in rows]


def body_of(stream: bytes) -> bytes:
    """A stream without its opening comment and `retry:` hint (they carry random jitter)."""
    opening, _, rest = stream.partition(b"\n\n")
    lines = opening.split(b"\n")
    assert all(line.startswith((b":", b"retry:")) for line in lines), opening
    return rest


async def post_audit(session: aiohttp.ClientSession, base: str, **body: Any) -> str:
    async with session.post(f"{base}/audits", json={"url": TARGET, **body}) as response:
        assert response.status == 202, await response.text()
        audit_id = (await response.json())["id"]
        assert isinstance(audit_id, str)
        return audit_id


async def read_events(session: aiohttp.ClientSession, base: str, audit_id: str) -> bytes:
    async with session.get(f"{base}/audits/{audit_id}/events") as response:
        assert response.status == 200, await response.text()
        return await response.read()


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()
