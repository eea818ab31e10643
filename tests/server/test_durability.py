"""The real server stopped (SIGKILL, SIGTERM) and started again on the same data dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from protocol.events import new_event
from protocol.jsonlines import to_json
from server.operations.recovery import recover_interrupted
from server.stores.sqlite import SQLiteStore
from server.stores.store import AuditRecord, StoredEvent
from tests.protocol.sse_parser import Message, parse
from tests.server.server_process import (
    ServerProcess,
    body_of,
    committed_positions,
    get_json,
    kill_workers,
    post_audit,
    read_events,
    running_server,
    worker_command,
)

AFTER = 3  # the hanging worker's events before it stops: positions 3..5 after queued, started


def messages(stream: bytes) -> list[Message]:
    return parse(stream).messages


async def read_live_until(response: aiohttp.ClientResponse, count: int) -> bytes:
    """Read a live stream until it holds `count` events; the bytes read so far."""
    seen = b""
    async with asyncio.timeout(30):
        while len(messages(seen)) < count:
            chunk = await response.content.readany()
            assert chunk, "the stream ended early"
            seen += chunk
    return seen


async def finished_audits(data_dir: Path, count: int) -> tuple[dict[str, bytes], object]:
    """Run `count` audits to completion on a fresh server; their live streams and history."""
    streams: dict[str, bytes] = {}
    async with (
        running_server(data_dir, VERITAS_WORKER_COMMAND=worker_command("normal")) as server,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(count):
            audit_id = await post_audit(session, server.base)
            streams[audit_id] = await read_events(session, server.base, audit_id)
        history = await get_json(session, f"{server.base}/audits")
        assert await server.stop(signal.SIGTERM) == 0
    return streams, history


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
async def test_finished_audits_replay_byte_identically_after_a_restart(
    tmp_path: Path, signum: int
) -> None:
    streams: dict[str, bytes] = {}
    command = worker_command("normal")
    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=command) as server,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(2):
            audit_id = await post_audit(session, server.base)
            streams[audit_id] = await read_events(session, server.base, audit_id)
        history = await get_json(session, f"{server.base}/audits")
        records = {a: await get_json(session, f"{server.base}/audits/{a}") for a in streams}
        await server.stop(signum)

    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=command) as server,
        aiohttp.ClientSession() as session,
    ):
        for audit_id, live in streams.items():
            replay = await read_events(session, server.base, audit_id)
            assert body_of(replay) == body_of(live)
            assert messages(live)[-1].type == "audit_complete"
            record = await get_json(session, f"{server.base}/audits/{audit_id}")
            assert record == records[audit_id]
            assert record["result"] is not None
        assert await get_json(session, f"{server.base}/audits") == history
    assert [a["id"] for a in history["audits"]] == list(reversed(streams))


@contextlib.asynccontextmanager
async def hanging_worker_server(
    data_dir: Path, **env: str
) -> AsyncIterator[tuple[ServerProcess, aiohttp.ClientSession]]:
    """A real server whose workers send a few events, then wait forever; those workers (in
    process groups of their own, so a SIGKILLed server leaves them) are ended afterwards."""
    pid_file = data_dir / "worker.pid"
    hang = worker_command("hang", after=AFTER, pid_file=pid_file)
    try:
        async with (
            running_server(data_dir, VERITAS_WORKER_COMMAND=hang, **env) as server,
            aiohttp.ClientSession() as session,
        ):
            yield server, session
    finally:
        kill_workers(pid_file)


async def start_hanging_audit(
    session: aiohttp.ClientSession, base: str
) -> tuple[str, aiohttp.ClientResponse, bytes]:
    """An audit whose worker sends hello and a few events, then waits forever."""
    audit_id = await post_audit(session, base)
    response = await session.get(f"{base}/audits/{audit_id}/events")
    assert response.status == 200
    seen = await read_live_until(response, 2 + AFTER)
    return audit_id, response, seen


async def test_an_audit_running_at_sigkill_ends_interrupted_and_loses_nothing_committed(
    tmp_path: Path,
) -> None:
    async with hanging_worker_server(tmp_path, VERITAS_STORE_BATCH_MS="50") as (server, session):
        audit_id, response, seen = await start_hanging_audit(session, server.base)
        positions = [int(m.last_event_id) for m in messages(seen)]
        assert positions == [1, 2, 3, 4, 5]
        # The stated bound: an event is committed at most one batch interval after
        # its append. The worker is idle now, so everything seen becomes durable.
        async with asyncio.timeout(30):
            while committed_positions(tmp_path, audit_id) != positions:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await server.stop(signal.SIGKILL)
        response.close()

    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")) as server,
        aiohttp.ClientSession() as session,
    ):
        record = await get_json(session, f"{server.base}/audits/{audit_id}")
        assert (record["status"], record["error_code"]) == ("error", "interrupted")
        replay = await read_events(session, server.base, audit_id)
        assert body_of(replay).startswith(body_of(seen))
        found = messages(replay)
        assert [int(m.last_event_id) for m in found] == [1, 2, 3, 4, 5, 6]
        assert found[-1].type == "audit_error"
        assert json.loads(found[-1].data)["code"] == "interrupted"
        history = await get_json(session, f"{server.base}/audits")
        assert [a["id"] for a in history["audits"]] == [audit_id]


async def test_at_sigkill_only_events_after_the_last_commit_are_lost(tmp_path: Path) -> None:
    """With a long batch interval the crash loses the uncommitted tail, and nothing else."""
    async with hanging_worker_server(tmp_path, VERITAS_STORE_BATCH_MS="60000") as (server, session):
        audit_id, response, seen = await start_hanging_audit(session, server.base)
        committed = committed_positions(tmp_path, audit_id)
        await server.stop(signal.SIGKILL)
        response.close()

    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")) as server,
        aiohttp.ClientSession() as session,
    ):
        replay = messages(await read_events(session, server.base, audit_id))
    kept, terminal = replay[:-1], replay[-1]
    # The record change to `running` committed audit_queued; what followed may be lost.
    assert len(committed) <= len(kept) <= len(messages(seen))
    assert kept == messages(seen)[: len(kept)]
    assert int(terminal.last_event_id) == len(kept) + 1
    assert json.loads(terminal.data)["code"] == "interrupted"


async def test_sigterm_mid_audit_ends_it_interrupted_live_and_after_the_restart(
    tmp_path: Path,
) -> None:
    async with hanging_worker_server(tmp_path) as (server, session):
        audit_id, response, seen = await start_hanging_audit(session, server.base)
        server.signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            live = seen + await response.content.read()
        response.close()
        assert await server.wait() == 0
    found = messages(live)
    assert found[-1].type == "audit_error"
    assert json.loads(found[-1].data)["code"] == "interrupted"

    async with (
        running_server(tmp_path, VERITAS_WORKER_COMMAND=worker_command("normal")) as server,
        aiohttp.ClientSession() as session,
    ):
        replay = await read_events(session, server.base, audit_id)
        record = await get_json(session, f"{server.base}/audits/{audit_id}")
    assert body_of(replay) == body_of(live)
    assert record["error_code"] == "interrupted"


async def test_retention_prunes_the_oldest_finished_audits_only(tmp_path: Path) -> None:
    streams, _ = await finished_audits(tmp_path, 3)
    oldest, *newer = list(streams)
    async with hanging_worker_server(
        tmp_path, VERITAS_RETENTION_MAX_AUDITS="2", VERITAS_RETENTION_INTERVAL="0.1"
    ) as (server, session):
        # At start-up: three finished audits, two allowed: the oldest goes.
        history = await get_json(session, f"{server.base}/audits")
        assert [a["id"] for a in history["audits"]] == list(reversed(newer))
        async with session.get(f"{server.base}/audits/{oldest}/events") as gone:
            assert gone.status == 404
        # A running audit counts but is never pruned: the next oldest goes instead.
        running, response, _ = await start_hanging_audit(session, server.base)
        async with asyncio.timeout(30):
            while True:
                history = await get_json(session, f"{server.base}/audits")
                if len(history["audits"]) == 2:
                    break
                await asyncio.sleep(0.05)
        assert [a["id"] for a in history["audits"]] == [running, newer[1]]
        assert history["audits"][0]["status"] == "running"
        response.close()
        await server.stop(signal.SIGTERM)


# -- recovery itself, against a real SQLite file


async def test_recovery_closes_running_and_queued_audits_and_trusts_a_stored_terminal(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "veritas.sqlite3")
    await store.open()
    base = AuditRecord("r", "https://r/", "quick_scan", "simple", None, "pipe", "running", 1.0)
    await store.create_audit(base)
    await store.create_audit(replace(base, id="q", status="queued", created_at=2.0))
    await store.create_audit(replace(base, id="t", created_at=3.0))
    await store.create_audit(replace(base, id="c", status="complete", created_at=4.0))
    for position in (1, 2):
        store.append_event("r", StoredEvent(position, "log_entry", "{}"))
    done = to_json(new_event("audit_complete", 0, elapsed=1.5))
    store.append_event("t", StoredEvent(1, "audit_complete", done))
    await store.flush()

    assert await recover_interrupted(store) == ["r", "q", "t"]

    for audit_id, position in (("r", 3), ("q", 1)):
        last = (await store.load_events(audit_id))[-1]
        assert (last.position, last.type) == (position, "audit_error")
        assert json.loads(last.data)["code"] == "interrupted"
        record = await store.get_audit(audit_id)
        assert record is not None
        assert (record.status, record.error_code) == ("error", "interrupted")
    assert [e.type for e in await store.load_events("t")] == ["audit_complete"]
    assert (await store.get_audit("t")).status == "complete"  # type: ignore[union-attr]
    assert await store.unfinished() == []
    assert await recover_interrupted(store) == []
    await store.close()
