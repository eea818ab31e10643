"""Operating several instances: the shared queue's limit, cluster metrics, retention; real
`python -m server` processes on one real redis-server, on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.server.redis_server import RedisServer, redis_server
from tests.server.server_process import TARGET, get_json, post_audit, read_events, worker_command
from tests.server.test_redis_cluster import instances, total_running


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with redis_server(tmp_path) as running:
        yield running


async def metrics_of(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}/metrics") as response:
        assert response.status == 200
        return await response.text()


async def metrics_until(
    session: aiohttp.ClientSession, base: str, *lines: str, count: int = 1
) -> str:
    """The metrics page once each pattern matches `count` lines of it (the cluster view is
    refreshed each third of a lease, by each instance at its own time)."""
    async with asyncio.timeout(30):
        while True:
            page = await metrics_of(session, base)
            if all(len(re.findall(line, page, re.MULTILINE)) == count for line in lines):
                return page
            await asyncio.sleep(0.1)


async def test_the_shared_queue_refuses_past_max_queued_on_every_instance_and_metrics_show_it(
    tmp_path: Path, redis: RedisServer
) -> None:
    env = {
        "VERITAS_WORKER_COMMAND": worker_command("sleep"),
        "VERITAS_MAX_WORKERS": "1",
        "VERITAS_MAX_QUEUED": "2",
        "VERITAS_LEASE_SECONDS": "1",
    }
    async with instances(tmp_path, redis, **env) as (a, b), aiohttp.ClientSession() as session:
        running = [await post_audit(session, server.base) for server in (a, b)]
        async with asyncio.timeout(30):
            while await total_running(session, [a, b]) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        waiting = [await post_audit(session, server.base) for server in (a, b)]
        for server in (a, b):  # two wait, whichever instance took them: both refuse a third
            async with session.post(f"{server.base}/audits", json={"url": TARGET}) as response:
                assert response.status == 429, await response.text()
                assert response.headers["Retry-After"] == "5"
                assert (await response.json())["error"]["code"] == "queue_full"
        await metrics_until(session, b.base, r"^veritas_cluster_queue_depth 2\.0$")
        page = await metrics_until(
            session,
            b.base,
            r'^veritas_cluster_running\{instance="\w+"\} 1\.0$',
            r'^veritas_cluster_slots\{instance="\w+"\} 1\.0$',
            r'^veritas_cluster_leases\{instance="\w+"\} 2\.0$',
            count=2,
        )
        assert re.search(r"^veritas_cluster_instances 2\.0$", page, re.M)
        leases = re.findall(r'^veritas_cluster_leases\{instance="\w+"\} (\d+)\.0$', page, re.M)
        assert sum(map(int, leases)) == 4  # two running, two accepted and waiting
        assert re.search(r"^veritas_cluster_reclaimed_total 0\.0$", page, re.M)
        async with session.delete(f"{a.base}/audits/{waiting[0]}") as response:
            assert response.status == 200
        await post_audit(session, a.base)  # room again
        await metrics_until(session, a.base, r"^veritas_cluster_queue_depth 2\.0$")
        for audit_id in running:
            async with session.delete(f"{b.base}/audits/{audit_id}") as response:
                assert response.status == 200


async def test_retention_keeps_the_newest_audits_across_instances(
    tmp_path: Path, redis: RedisServer
) -> None:
    env = {
        "VERITAS_WORKER_COMMAND": worker_command("drip", count=3, interval=0.01),
        "VERITAS_RETENTION_MAX_AUDITS": "3",
        "VERITAS_RETENTION_INTERVAL": "0.2",
    }
    async with instances(tmp_path, redis, **env) as (a, b), aiohttp.ClientSession() as session:
        ids = []
        for n in range(6):
            ids.append(await post_audit(session, (a, b)[n % 2].base))
            await read_events(session, a.base, ids[-1])  # to its end: finished, in order
        async with asyncio.timeout(30):
            while len((await get_json(session, f"{b.base}/audits"))["audits"]) > 3:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        listed = await get_json(session, f"{a.base}/audits")
        assert [item["id"] for item in listed["audits"]] == ids[:2:-1]  # the newest three
        client = aioredis.Redis.from_url(redis.url, decode_responses=True)
        try:
            assert await client.zcard("veritas:audits") == 3
            assert not await client.exists(*(f"veritas:events:{i}" for i in ids[:3]))
            assert await client.exists(*(f"veritas:events:{i}" for i in ids[3:])) == 3
        finally:
            await client.aclose()
        pruned = [
            float(m)
            for s in (a, b)
            for m in re.findall(
                r"^veritas_audits_pruned_total (\S+)$", await metrics_of(session, s.base), re.M
            )
        ]
        assert sum(pruned) == 3  # each audit deleted once, by one instance or the other
