"""Two real `python -m server` processes on one real redis-server, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.server.redis_server import RedisServer, redis_server
from tests.server.server_process import (
    ServerProcess,
    alive,
    body_of,
    get_json,
    kill_workers,
    post_audit,
    read_events,
    worker_command,
    worker_pids,
)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with redis_server(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def instances(
    tmp_path: Path, redis: RedisServer, count: int = 2, **env: str
) -> AsyncIterator[list[ServerProcess]]:
    servers = []
    for index in range(count):
        data_dir = tmp_path / f"instance{index}"
        data_dir.mkdir()
        servers.append(ServerProcess(data_dir, {"VERITAS_STORE": redis.url, **env}))
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        for server in servers:
            await server.ensure_stopped()


def ids_of(stream: bytes) -> list[int]:
    return [int(line[4:]) for line in stream.split(b"\n") if line.startswith(b"id: ")]


async def test_an_audit_started_on_a_streams_byte_identical_from_b(
    tmp_path: Path, redis: RedisServer
) -> None:
    drip = worker_command("drip", count=150, interval=0.02)
    async with (
        instances(tmp_path, redis, VERITAS_WORKER_COMMAND=drip) as (a, b),
        aiohttp.ClientSession() as session,
    ):
        audit_id = await post_audit(session, a.base)
        from_a_task = asyncio.create_task(read_events(session, a.base, audit_id))
        async with session.get(f"{b.base}/audits/{audit_id}/events") as response:
            assert response.status == 200
            from_b = await response.content.readuntil(b"id: 3\n")
            # Live: it is still running, on one of the two (whichever had a free slot first).
            assert (await get_json(session, f"{b.base}/audits/{audit_id}"))["status"] == "running"
            running = [(await get_json(session, f"{s.base}/healthz"))["running"] for s in (a, b)]
            assert sorted(running) == [0, 1]
            from_b += await response.read()
        from_a = await from_a_task
        assert body_of(from_b) == body_of(from_a)
        ids = ids_of(from_b)
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > 150
        assert from_b.count(b"event: audit_complete") == 1
        # Resume on B after an id seen on A; and after the end, as today.
        async with session.get(
            f"{b.base}/audits/{audit_id}/events", headers={"Last-Event-ID": "10"}
        ) as response:
            assert response.status == 200
            resumed = await response.read()
        assert ids_of(resumed) == ids[10:]
        assert body_of(from_a).endswith(body_of(resumed))
        beyond = {"Last-Event-ID": str(len(ids) + 1)}
        async with session.get(f"{b.base}/audits/{audit_id}/events", headers=beyond) as response:
            assert response.status == 400
        record_on_b = await get_json(session, f"{b.base}/audits/{audit_id}")
        assert record_on_b["status"] == "complete"
        listed = await get_json(session, f"{b.base}/audits")
        assert [item["id"] for item in listed["audits"]] == [audit_id]


async def owner_first(
    session: aiohttp.ClientSession, servers: list[ServerProcess]
) -> tuple[ServerProcess, ServerProcess]:
    """The instance running the one audit (whichever claimed it), then the other."""
    async with asyncio.timeout(30):
        while True:
            running = [(await get_json(session, f"{s.base}/healthz"))["running"] for s in servers]
            if 1 in running:
                owner = running.index(1)
                return servers[owner], servers[1 - owner]
            await asyncio.sleep(0.05)


async def total_running(session: aiohttp.ClientSession, servers: list[ServerProcess]) -> int:
    return sum([(await get_json(session, f"{s.base}/healthz"))["running"] for s in servers])


async def read_until_id(response: aiohttp.ClientResponse, position: int) -> bytes:
    return await response.content.readuntil(f"id: {position}\n".encode())


async def test_sigkill_of_the_owner_a_client_resumes_on_b_to_exactly_one_end(
    tmp_path: Path, redis: RedisServer
) -> None:
    pid_file = tmp_path / "workers.pids"
    hang = worker_command("hang", pid_file=pid_file, after=5)
    env = {"VERITAS_WORKER_COMMAND": hang, "VERITAS_LEASE_SECONDS": "1"}
    async with instances(tmp_path, redis, **env) as servers, aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, servers[0].base)
        a, b = await owner_first(session, servers)
        async with session.get(f"{a.base}/audits/{audit_id}/events") as response:
            seen = await read_until_id(response, 4)
            await a.stop(signal.SIGKILL)
        kill_workers(pid_file)  # they die with their server; this only makes sure
        last = ids_of(seen)[-1]
        async with session.get(
            f"{b.base}/audits/{audit_id}/events", headers={"Last-Event-ID": str(last)}
        ) as response:
            assert response.status == 200
            rest = await response.read()
        ids = ids_of(seen) + ids_of(rest)
        assert ids == list(range(1, len(ids) + 1))
        assert rest.count(b"event: audit_error") == 1
        assert rest.count(b"event: audit_complete") == 0
        assert rest.rstrip().endswith(b"}")  # the terminal event is the last one
        assert b'"code":"interrupted"' in rest
        record = await get_json(session, f"{b.base}/audits/{audit_id}")
        assert (record["status"], record["error_code"]) == ("error", "interrupted")


async def test_an_owner_stopped_past_its_lease_is_fenced_when_it_resumes(
    tmp_path: Path, redis: RedisServer
) -> None:
    pid_file = tmp_path / "workers.pids"
    hang = worker_command("hang", pid_file=pid_file, after=5)
    env = {"VERITAS_WORKER_COMMAND": hang, "VERITAS_LEASE_SECONDS": "1"}
    async with instances(tmp_path, redis, **env) as servers, aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, servers[0].base)
        a, b = await owner_first(session, servers)
        async with session.get(f"{b.base}/audits/{audit_id}/events") as response:
            await read_until_id(response, 4)
            a.signal(signal.SIGSTOP)
            try:
                stream = await response.read()  # ends once B's reaper closed the audit
            finally:
                a.signal(signal.SIGCONT)
        assert stream.count(b"event: audit_error") == 1
        assert b'"code":"interrupted"' in stream
        # A wakes up fenced: it stops its worker and appends nothing more.
        async with asyncio.timeout(30):
            while any(alive(pid) for pid in worker_pids(pid_file)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            while (await get_json(session, f"{a.base}/healthz"))["running"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with session.get(f"{b.base}/audits/{audit_id}/events") as response:
            whole = await response.read()
        assert whole.count(b"event: audit_error") + whole.count(b"event: audit_complete") == 1
        ids = ids_of(whole)
        assert ids == list(range(1, len(ids) + 1))
        record = await get_json(session, f"{a.base}/audits/{audit_id}")
        assert (record["status"], record["error_code"]) == ("error", "interrupted")
        # Any instance's metrics count the reclaim and, once A reported it, the fencing.
        async with asyncio.timeout(30):
            while True:
                async with session.get(f"{b.base}/metrics") as response:
                    page = await response.text()
                if all(
                    f"veritas_cluster_{name}_total 1.0\n" in page
                    for name in ("reclaimed", "fenced")
                ):
                    break
                await asyncio.sleep(0.1)


async def test_twenty_audits_over_two_instances_of_two_slots(
    tmp_path: Path, redis: RedisServer
) -> None:
    env = {
        "VERITAS_WORKER_COMMAND": worker_command("drip", count=20, interval=0.01),
        "VERITAS_MAX_WORKERS": "2",
    }
    async with instances(tmp_path, redis, **env) as (a, b), aiohttp.ClientSession() as session:
        ids = [await post_audit(session, (a, b)[n % 2].base) for n in range(20)]
        streams = await asyncio.gather(*(read_events(session, a.base, i) for i in ids))
        again = await asyncio.gather(*(read_events(session, b.base, i) for i in ids))
        for first, second in zip(streams, again, strict=True):
            assert body_of(first) == body_of(second)
            assert first.count(b"event: audit_complete") == 1
            assert ids_of(first) == list(range(1, len(ids_of(first)) + 1))
        listed = await get_json(session, f"{b.base}/audits?limit=20&status=complete")
        assert sorted(item["id"] for item in listed["audits"]) == sorted(ids)
        client = aioredis.Redis.from_url(redis.url, decode_responses=True)
        pending = await client.xpending("veritas:queue", "workers")
        unfinished = await client.zcard("veritas:unfinished")
        await client.aclose()
        assert pending["pending"] == 0 and unfinished == 0
        claims = [
            sum("claimed from the queue" in line for line in server.stderr_lines())
            for server in (a, b)
        ]
        assert sum(claims) == 20 and min(claims) > 0  # both instances ran audits


async def test_cancel_a_running_audit_from_the_other_instance(
    tmp_path: Path, redis: RedisServer
) -> None:
    pid_file = tmp_path / "workers.pids"
    env = {"VERITAS_WORKER_COMMAND": worker_command("sleep", pid_file=pid_file)}
    async with instances(tmp_path, redis, **env) as servers, aiohttp.ClientSession() as session:
        audit_id = await post_audit(session, servers[0].base)
        owner, other = await owner_first(session, servers)
        async with session.delete(f"{other.base}/audits/{audit_id}") as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        assert (body["status"], body["error_code"]) == ("error", "cancelled")
        stream = await read_events(session, owner.base, audit_id)
        assert stream.count(b"event: audit_error") == 1 and b'"code":"cancelled"' in stream
        assert body_of(stream) == body_of(await read_events(session, other.base, audit_id))
        assert not any(alive(pid) for pid in worker_pids(pid_file))
        assert (await get_json(session, f"{owner.base}/healthz"))["running"] == 0


async def test_cancel_a_queued_audit_from_any_instance(tmp_path: Path, redis: RedisServer) -> None:
    env = {"VERITAS_WORKER_COMMAND": worker_command("sleep"), "VERITAS_MAX_WORKERS": "1"}
    async with instances(tmp_path, redis, **env) as (a, b), aiohttp.ClientSession() as session:
        busy = [await post_audit(session, a.base) for _ in range(2)]  # both slots taken
        await owner_first(session, [a, b])
        async with asyncio.timeout(30):
            while await total_running(session, [a, b]) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        waiting = await post_audit(session, b.base)
        async with session.delete(f"{a.base}/audits/{waiting}") as response:
            assert response.status == 200, await response.text()
        stream = await read_events(session, b.base, waiting)
        assert ids_of(stream) == [1, 2]
        assert b"event: audit_queued" in stream and b'"code":"cancelled"' in stream
        for audit_id in busy:
            async with session.delete(f"{b.base}/audits/{audit_id}") as response:
                assert response.status == 200
        async with session.delete(f"{b.base}/audits/{waiting}") as response:
            assert response.status == 409
        client = aioredis.Redis.from_url(redis.url, decode_responses=True)
        assert await client.zcard("veritas:unfinished") == 0
        await client.aclose()


async def test_a_cancel_asked_before_the_owner_adopted_the_audit_still_stops_it(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Between its claim and its adoption an audit has an owner that cannot hear the
    # `cancel` message yet: the cancel key set beside the message is what reaches it.
    env = {"VERITAS_WORKER_COMMAND": worker_command("sleep"), "VERITAS_MAX_WORKERS": "1"}
    async with instances(tmp_path, redis, **env) as (a, b), aiohttp.ClientSession() as session:
        busy = [await post_audit(session, a.base) for _ in range(2)]
        async with asyncio.timeout(30):
            while await total_running(session, [a, b]) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        waiting = await post_audit(session, b.base)
        client = aioredis.Redis.from_url(redis.url, decode_responses=True)
        await client.set(f"veritas:cancel:{waiting}", "1")  # as if asked in the window
        await client.aclose()
        for audit_id in busy:  # a slot frees: the waiting audit is claimed, then stopped
            async with session.delete(f"{b.base}/audits/{audit_id}") as response:
                assert response.status == 200
        stream = await read_events(session, a.base, waiting)
        assert b"event: audit_error" in stream and b'"code":"cancelled"' in stream
        assert b"event: audit_started" not in stream


async def test_redis_restarted_without_persistence_mid_audit(
    tmp_path: Path, redis: RedisServer
) -> None:
    drip = worker_command("drip", count=150, interval=0.02)
    async with (
        instances(tmp_path, redis, VERITAS_WORKER_COMMAND=drip) as servers,
        aiohttp.ClientSession() as session,
    ):
        audit_id = await post_audit(session, servers[0].base)
        owner, other = await owner_first(session, servers)
        async with session.get(f"{other.base}/audits/{audit_id}/events") as response:
            seen = await read_until_id(response, 20)
            await redis.restart()  # every key is gone; the owner holds what it wrote
            seen += await response.read()
        ids = ids_of(seen)
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > 150
        assert seen.count(b"event: audit_complete") == 1
        assert body_of(await read_events(session, owner.base, audit_id)) == body_of(seen)
        record = await get_json(session, f"{other.base}/audits/{audit_id}")
        assert record["status"] == "complete"
