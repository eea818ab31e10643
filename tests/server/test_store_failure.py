"""A store that cannot write is loud: /healthz fails, new audits get 503, nothing hangs."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import aiohttp

from tests.server.server_process import TARGET, running_server, worker_command


async def test_text_the_store_cannot_hold_is_refused_and_the_service_goes_on(
    tmp_path: Path,
) -> None:
    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")) as server,
        aiohttp.ClientSession() as session,
    ):
        body = '{"url": "http://127.0.0.1:9/?\\ud800"}'  # a lone surrogate, JSON-escaped
        headers = {"Content-Type": "application/json"}
        async with session.post(f"{server.base}/audits", data=body, headers=headers) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"]
        async with session.get(f"{server.base}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        async with session.post(f"{server.base}/audits", json={"url": TARGET}) as response:
            assert response.status == 202


async def test_a_store_that_fails_turns_health_failing_and_new_audits_get_503(
    tmp_path: Path,
) -> None:
    command = worker_command("normal")
    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=command) as server,
        aiohttp.ClientSession() as session,
    ):
        # Another connection holds the write lock past the store's busy timeout: a real
        # failed commit, and the store stops.
        path = tmp_path / "veritas.sqlite3"
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            async with asyncio.timeout(60):
                async with session.post(f"{server.base}/audits", json={"url": TARGET}) as first:
                    assert first.status == 503
                    error = (await first.json())["error"]
            other.execute("ROLLBACK")
        assert error["code"] == "store_unavailable"
        async with session.get(f"{server.base}/healthz") as response:
            assert response.status == 503
            health = await response.json()
        assert health["status"] == "failing"
        assert health["error"]["code"] == "store_unavailable"
        async with asyncio.timeout(30):  # answered at once: the store is known to be down
            async with session.post(f"{server.base}/audits", json={"url": TARGET}) as again:
                assert again.status == 503
                assert (await again.json())["error"]["code"] == "store_unavailable"
                assert again.headers.get("Retry-After")
