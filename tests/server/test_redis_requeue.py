"""`VERITAS_ON_LOST=requeue`: an audit whose instance died runs again on another one, its
stream going on at the next ids; real servers on one real redis-server, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from server.config import from_environment
from server.errors import ConfigError
from tests.server.redis_server import RedisServer, redis_server
from tests.server.server_process import (
    ServerProcess,
    get_json,
    kill_workers,
    post_audit,
    worker_command,
)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with redis_server(tmp_path) as running:
        yield running


@pytest.fixture
async def cluster(tmp_path: Path, redis: RedisServer) -> AsyncIterator[Cluster]:
    async with contextlib.AsyncExitStack() as stack:
        yield Cluster(tmp_path, redis, stack)


class Cluster:
    """Instances started one at a time, each with its own worker; all stopped at the end."""

    def __init__(self, tmp_path: Path, redis: RedisServer, stack: contextlib.AsyncExitStack):
        self.tmp_path = tmp_path
        self.redis = redis
        self.stack = stack
        self.started = 0

    async def start(self, worker: str, **env: str) -> ServerProcess:
        self.started += 1
        data_dir = self.tmp_path / f"instance{self.started}"
        data_dir.mkdir()
        settings = {
            "VERITAS_STORE": self.redis.url,
            "VERITAS_LEASE_SECONDS": "1",
            "VERITAS_ON_LOST": "requeue",
            "VERITAS_WORKER_COMMAND": worker,
            **env,
        }
        server = ServerProcess(data_dir, settings)
        self.stack.push_async_callback(server.ensure_stopped)
        await server.start()
        return server


# Records its arguments (one JSON line per run), then becomes the fake worker without the
# `--connect-to` rules, which the fake worker does not take.
_ARGV_RECORDER = """import json, os, sys
with open(sys.argv[1], "a") as file:
    file.write(json.dumps(sys.argv[2:]) + "\\n")
args, rest = [], sys.argv[2:]
while rest:
    if rest[0] == "--connect-to":
        rest = rest[2:]
        continue
    args.append(rest.pop(0))
os.execv(sys.executable, [sys.executable, *args])
"""


def recording(worker: str, argv_file: Path) -> str:
    """`worker`, its arguments recorded in `argv_file`."""
    recorder = argv_file.with_suffix(".py")
    recorder.write_text(_ARGV_RECORDER)
    python, *rest = worker.split()
    return " ".join([python, str(recorder), str(argv_file), *rest])


def events_of(stream: bytes) -> list[tuple[int, str, dict[str, object]]]:
    """(id, type, data) of each event of an SSE stream."""
    found = []
    for block in stream.split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"id" in lines and b"data" in lines:
            found.append((int(lines[b"id"]), lines[b"event"].decode(), json.loads(lines[b"data"])))
    return found


async def running_on(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    async with asyncio.timeout(30):
        while not (await get_json(session, f"{server.base}/healthz"))["running"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def started(session: aiohttp.ClientSession, base: str, audit_id: str, runs: int) -> None:
    """Return once the audit's stream shows its `runs`-th `audit_started`."""
    seen = b""
    async with session.get(f"{base}/audits/{audit_id}/events") as response:
        while seen.count(b"event: audit_started\n") < runs:
            seen += await response.content.readany()


async def stream_to_end(session: aiohttp.ClientSession, base: str, audit_id: str) -> bytes:
    async with session.get(f"{base}/audits/{audit_id}/events") as response:
        assert response.status == 200
        return await response.read()


async def stats(redis: RedisServer) -> dict[str, str]:
    client = aioredis.Redis.from_url(redis.url, decode_responses=True)
    try:
        found: dict[str, str] = await client.hgetall("veritas:stats")
        return found
    finally:
        await client.aclose()


async def test_an_audit_whose_instance_died_runs_again_and_its_stream_goes_on(
    cluster: Cluster, tmp_path: Path
) -> None:
    pid_file = tmp_path / "workers.pids"
    hang = recording(worker_command("hang", pid_file=pid_file, after=5), tmp_path / "a.jsonl")
    a = await cluster.start(hang)
    async with aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, a.base, connect_to=["example.test:80:127.0.0.1:9"])
        await running_on(session, a)
        async with session.get(f"{a.base}/audits/{audit_id}/events") as response:
            seen = await response.content.readuntil(b"id: 4\n")
            await a.stop(signal.SIGKILL)
        kill_workers(pid_file)
        argv_file = tmp_path / "argv.jsonl"
        b = await cluster.start(recording(worker_command("drip", count=30), argv_file))
        async with session.get(
            f"{b.base}/audits/{audit_id}/events", headers={"Last-Event-ID": "3"}
        ) as response:
            rest = await response.read()
        whole = await stream_to_end(session, b.base, audit_id)
        record = await get_json(session, f"{b.base}/audits/{audit_id}")
    events = events_of(whole)
    assert [position for position, _, _ in events] == list(range(1, len(events) + 1))
    assert events_of(seen)[:3] == events[:3]
    assert events_of(rest) == events[3:]
    types = [kind for _, kind, _ in events]
    assert types.count("audit_queued") == 2 and types[-1] == "audit_complete"
    assert sum(kind in ("audit_complete", "audit_error") for kind in types) == 1
    again = types.index("audit_queued", 1)
    assert events[again][2] == {**events[0][2], "ts": events[again][2]["ts"]}
    assert types[again + 1 :].count("hello") == 1  # the new run, from its start
    (argv,) = [json.loads(line) for line in argv_file.read_text().splitlines()]
    assert "example.test:80:127.0.0.1:9" in argv  # the run's options survived the requeue
    assert record["status"] == "complete"
    assert (await stats(cluster.redis)) == {"reclaimed": "1", "requeued": "1"}


async def test_requeues_are_bounded_then_the_audit_ends_interrupted(
    cluster: Cluster, tmp_path: Path
) -> None:
    pid_file = tmp_path / "workers.pids"
    hang = worker_command("hang", pid_file=pid_file, after=5)
    once = {"VERITAS_MAX_REQUEUES": "1"}
    a = await cluster.start(hang, **once)
    async with aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, a.base)
        await started(session, a.base, audit_id, 1)
        await a.stop(signal.SIGKILL)
        kill_workers(pid_file)
        b = await cluster.start(hang, **once)  # reaps it, queues it again, runs it
        await started(session, b.base, audit_id, 2)
        await b.stop(signal.SIGKILL)
        kill_workers(pid_file)
        c = await cluster.start(worker_command("drip", count=5), **once)
        whole = await stream_to_end(session, c.base, audit_id)
        record = await get_json(session, f"{c.base}/audits/{audit_id}")
        assert (await get_json(session, f"{c.base}/healthz"))["running"] == 0
    events = events_of(whole)
    assert [position for position, _, _ in events] == list(range(1, len(events) + 1))
    types = [kind for _, kind, _ in events]
    assert types.count("audit_queued") == 2 and types.count("audit_started") == 2
    assert types[-1] == "audit_error" and events[-1][2]["code"] == "interrupted"
    assert sum(kind in ("audit_complete", "audit_error") for kind in types) == 1
    assert (record["status"], record["error_code"]) == ("error", "interrupted")
    assert (await stats(cluster.redis)) == {"reclaimed": "2", "requeued": "1"}


def test_on_lost_and_max_requeues_are_read_and_checked_once() -> None:
    config = from_environment({"VERITAS_ON_LOST": " Requeue ", "VERITAS_MAX_REQUEUES": "0"})
    assert (config.on_lost, config.max_requeues) == ("requeue", 0)
    assert from_environment({}).on_lost == "interrupted"
    with pytest.raises(ConfigError, match="VERITAS_ON_LOST"):
        from_environment({"VERITAS_ON_LOST": "retry"})
    with pytest.raises(ConfigError, match="max_requeues"):
        from_environment({"VERITAS_MAX_REQUEUES": "-1"})


async def test_a_queued_audit_whose_accepting_instance_died_waits_again_and_runs_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    pid_file = tmp_path / "workers.pids"
    a = await cluster.start(worker_command("sleep", pid_file=pid_file), VERITAS_MAX_WORKERS="1")
    async with aiohttp.ClientSession() as session:
        running = await post_audit(session, a.base)
        await started(session, a.base, running, 1)
        waiting = await post_audit(session, a.base)  # A's one slot is taken: it waits
        await a.stop(signal.SIGKILL)
        kill_workers(pid_file)
        b = await cluster.start(worker_command("drip", count=5))
        streams = [await stream_to_end(session, b.base, i) for i in (running, waiting)]
        records = [await get_json(session, f"{b.base}/audits/{i}") for i in (running, waiting)]
    for stream in streams:
        events = events_of(stream)
        assert [position for position, _, _ in events] == list(range(1, len(events) + 1))
        assert events[-1][1] == "audit_complete"
    assert [kind for _, kind, _ in events_of(streams[1])].count("audit_queued") == 1  # no event
    assert [kind for _, kind, _ in events_of(streams[0])].count("audit_queued") == 2
    assert [record["status"] for record in records] == ["complete", "complete"]
    assert (await stats(cluster.redis)) == {"reclaimed": "1", "requeued": "1"}
