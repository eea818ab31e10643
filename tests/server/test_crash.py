"""The stream's promise under crashes: the real server SIGKILLed at random moments of many
running audits (real SQLite, real SSE clients on sockets), restarted on the same data dir.

After every crash: each id a client saw still names the same event, a resume from it
works, the audit ends with exactly one terminal event after everything seen, and no
auditor of the killed server is left running.

`make test` runs a small size; VERITAS_CRASH_ROUNDS=N (and VERITAS_CRASH_AUDITS=M) run
more rounds of more audits, and VERITAS_CRASH_SEED replays one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from protocol.events import TERMINAL_TYPES
from tests.protocol.sse_parser import Message, parse
from tests.server.server_process import (
    ServerProcess,
    body_of,
    kill_workers,
    post_audit,
    running_server,
    worker_command,
    worker_pids,
)

ROUNDS = int(os.environ.get("VERITAS_CRASH_ROUNDS", "2"))
AUDITS = int(os.environ.get("VERITAS_CRASH_AUDITS", "20"))
SEED = int(os.environ.get("VERITAS_CRASH_SEED", str(random.randrange(1 << 30))))


@dataclass
class Watched:
    """One client's view of one audit's live stream."""

    audit_id: str
    raw: bytes = b""
    reader: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def seen(self) -> list[Message]:
        return parse(self.raw).messages


def dead(pid: int) -> bool:
    """Gone, or a zombie waiting for a reaper that may never come in a container."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


async def until_dead(pids: list[int], seconds: float = 30.0) -> list[int]:
    """Wait (bounded) for every pid to be gone; the ones still alive at the end."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while not all(dead(pid) for pid in pids):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    return [pid for pid in pids if not dead(pid)]


async def follow(session: aiohttp.ClientSession, base: str, watched: Watched) -> None:
    """Read the live stream until it ends or the server dies; keep every byte."""
    with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
        async with session.get(f"{base}/audits/{watched.audit_id}/events") as response:
            assert response.status == 200
            async for chunk in response.content.iter_any():
                watched.raw += chunk


async def crash_round(
    data_dir: Path, rng: random.Random, pid_file: Path
) -> tuple[list[Watched], list[int]]:
    """Start audits, watch them, SIGKILL the server at a random moment; the views and the
    worker pids of that server."""
    command = worker_command("drip", pid_file=pid_file, count=400, interval=0.005)
    before = len(worker_pids(pid_file))
    env = {"VERITAS_WORKER_COMMAND": command, "VERITAS_MAX_WORKERS": str(AUDITS)}
    async with running_server(data_dir, **env) as server, aiohttp.ClientSession() as session:
        watched = [Watched(await post_audit(session, server.base)) for _ in range(AUDITS)]
        for view in watched:
            view.reader = asyncio.create_task(follow(session, server.base, view))
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        await server.stop(signal.SIGKILL)
        readers = [view.reader for view in watched if view.reader is not None]
        async with asyncio.timeout(30):
            await asyncio.gather(*readers)
    return watched, worker_pids(pid_file)[before:]


async def check_after_restart(server: ServerProcess, watched: list[Watched]) -> None:
    async with aiohttp.ClientSession() as session:
        for view in watched:
            full = await stream(session, server.base, view.audit_id, None)
            replay = parse(full).messages
            assert [int(m.last_event_id) for m in replay] == list(range(1, len(replay) + 1))
            terminals = [m for m in replay if m.type in TERMINAL_TYPES]
            assert terminals == [replay[-1]], f"{view.audit_id}: one terminal event, last"
            seen = view.seen
            assert replay[: len(seen)] == seen, f"{view.audit_id}: an id changed its event"
            if seen and seen[-1].type not in TERMINAL_TYPES:
                assert json.loads(replay[-1].data)["code"] == "interrupted"
            for message in {seen[-1], *seen[:: max(len(seen) // 3, 1)]} if seen else ():
                await check_resume(session, server.base, view.audit_id, message, full)


async def stream(
    session: aiohttp.ClientSession, base: str, audit_id: str, last_id: str | None
) -> bytes:
    headers = {} if last_id is None else {"Last-Event-ID": last_id}
    async with session.get(f"{base}/audits/{audit_id}/events", headers=headers) as response:
        assert response.status in (200, 204), await response.text()
        return await response.read()


async def check_resume(
    session: aiohttp.ClientSession, base: str, audit_id: str, message: Message, full: bytes
) -> None:
    """A client that saw `message` resumes from its id and gets exactly what follows."""
    resumed = await stream(session, base, audit_id, message.last_event_id)
    after = parse(full).messages[int(message.last_event_id) :]
    assert parse(resumed).messages == after
    if after:
        assert body_of(full).endswith(body_of(resumed))


async def test_sigkill_at_random_moments_keeps_every_seen_id_and_every_resume(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    pid_file = tmp_path / "workers.pid"
    print(f"VERITAS_CRASH_SEED={SEED}")
    seen = 0
    try:
        for _ in range(ROUNDS):
            watched, pids = await crash_round(tmp_path, rng, pid_file)
            assert len(pids) <= AUDITS  # the kill may come before every spawn
            seen += sum(len(view.seen) for view in watched)
            assert await until_dead(pids) == [], "auditors outlived the SIGKILLed server"
            async with running_server(
                tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")
            ) as server:
                await check_after_restart(server, watched)
                await server.stop(signal.SIGKILL)
    finally:
        kill_workers(pid_file)
    assert seen > 0  # the clients did watch something


async def test_auditors_die_with_a_sigkilled_server(tmp_path: Path) -> None:
    pid_file = tmp_path / "workers.pid"
    hang = worker_command("hang", pid_file=pid_file)
    try:
        env = {"VERITAS_WORKER_COMMAND": hang, "VERITAS_MAX_WORKERS": "10"}
        async with running_server(tmp_path, **env) as server, aiohttp.ClientSession() as session:
            for _ in range(10):
                await post_audit(session, server.base)
            async with asyncio.timeout(30):
                while len(worker_pids(pid_file)) < 10:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            pids = worker_pids(pid_file)
            assert not any(dead(pid) for pid in pids)
            await server.stop(signal.SIGKILL)
        assert await until_dead(pids) == []
    finally:
        kill_workers(pid_file)
