"""RedisStore against a real redis-server: the SQLite store's semantics, exact resume, visibility
only after Redis acknowledged, fencing, and events Redis lost appended again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from server.stores.errors import StoreError, StoreRefused
from server.stores.redis import RedisSettings, RedisStore
from server.stores.store import AuditRecord, StoredEvent
from tests.server.redis_server import RedisServer, redis_server

ROOT = Path(__file__).resolve().parents[2]


def record(audit_id: str, created_at: float, status: str = "complete") -> AuditRecord:
    return AuditRecord(
        id=audit_id,
        url=f"https://{audit_id}.example/",
        tier="quick_scan",
        verdict_mode="simple",
        security_modules=("headers", "tls"),
        ipc="pipe",
        status=status,  # type: ignore[arg-type]
        created_at=created_at,
    )


def event(position: int, type_: str = "log_entry") -> StoredEvent:
    data = json.dumps({"v": 1, "type": type_, "seq": position, "n": "é\u2028 ✓"})
    return StoredEvent(position, type_, data)


def terminal(position: int, code: str = "crashed") -> StoredEvent:
    data = json.dumps({"v": 1, "type": "audit_error", "seq": position, "code": code, "error": "x"})
    return StoredEvent(position, "audit_error", data)


class Listener:
    """A CommitListener that records what it was told."""

    def __init__(self) -> None:
        self.committed_to = 0
        self.failure: str | None = None

    def committed(self, position: int) -> None:
        self.committed_to = position

    def failed(self, reason: str) -> None:
        self.failure = reason


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with redis_server(tmp_path) as running:
        yield running


@pytest.fixture
async def store(server: RedisServer) -> AsyncIterator[RedisStore]:
    opened = RedisStore(server.url)
    await opened.open()
    yield opened
    await opened.close()


async def raw(server: RedisServer) -> aioredis.Redis:
    return aioredis.Redis.from_url(server.url, decode_responses=True)


async def test_a_record_and_its_events_survive_close_and_reopen(server: RedisServer) -> None:
    first = RedisStore(server.url)
    await first.open()
    await first.create_audit(record("a1", 100.0, status="running"))
    for position in range(1, 6):
        first.append_event("a1", event(position))
    result = {"trust_score": 87, "risk_level": "low", "findings": [{"id": "f"}]}
    await first.update_audit(
        "a1", status="complete", finished_at=101.5, trust_score=87, risk_level="low", result=result
    )
    await first.close()

    second = RedisStore(server.url)
    await second.open()
    expected = replace(
        record("a1", 100.0), finished_at=101.5, trust_score=87, risk_level="low", result=result
    )
    assert await second.get_audit("a1") == expected
    assert await second.load_events("a1") == [event(p) for p in range(1, 6)]
    assert await second.load_events("a1", after=3) == [event(4), event(5)]
    assert await second.load_events("a1", after=5) == []
    assert await second.get_audit("nope") is None
    await second.close()


async def test_each_event_is_stream_id_n_0(store: RedisStore, server: RedisServer) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_events("a1", [event(1), event(2), event(3)])
    await store.flush()
    client = await raw(server)
    entries = await client.xrange("veritas:events:a1")
    await client.aclose()
    assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0", "3-0"]
    assert entries[0][1] == {"t": "log_entry", "d": event(1).data}


async def test_replay_pages_through_long_streams(server: RedisServer) -> None:
    store = RedisStore(server.url, RedisSettings(replay_page=7))
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_events("a1", [event(p) for p in range(1, 31)])
    await store.flush()
    assert [e.position for e in await store.load_events("a1", after=4)] == list(range(5, 31))
    await store.close()


async def test_the_listener_hears_only_after_redis_acknowledged(
    store: RedisStore, server: RedisServer
) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    listener = Listener()
    store.append_events("a1", [event(1), event(2)], listener)
    assert listener.committed_to == 0  # queued only: nothing is visible yet
    await store.flush()
    assert listener.committed_to == 2
    client = await raw(server)
    assert await client.xlen("veritas:events:a1") == 2
    await client.aclose()


async def test_a_retried_batch_is_never_stored_twice(store: RedisStore) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    listener = Listener()
    store.append_events("a1", [event(1), event(2)], listener)
    store.append_events("a1", [event(1), event(2)], listener)  # as after a lost reply
    await store.flush()
    assert [e.position for e in await store.load_events("a1")] == [1, 2]
    assert listener.failure is None


async def test_a_batch_that_does_not_follow_the_last_is_refused(store: RedisStore) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    listener = Listener()
    store.append_events("a1", [event(3)], listener)  # 1 and 2 were never appended here
    await store.flush()
    assert listener.failure is not None and "gap" in listener.failure
    assert await store.load_events("a1") == []


async def test_the_terminal_event_closes_the_record_in_the_same_step(
    store: RedisStore,
) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_events("a1", [event(1), terminal(2, code="interrupted")])
    await store.flush()
    stored = await store.get_audit("a1")
    assert stored is not None
    assert (stored.status, stored.error_code, stored.error) == ("error", "interrupted", "x")
    assert stored.finished_at is not None
    assert await store.unfinished() == []


async def test_a_fenced_owner_can_append_nothing_more(
    store: RedisStore, server: RedisServer
) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    client = await raw(server)
    fenced: list[str] = []
    store.on_fenced = fenced.append
    first, second = Listener(), Listener()
    store.append_events("a1", [event(1)], first)
    await store.flush()
    await client.hset("veritas:audit:a1", "token", "2")  # another instance took the lease
    store.append_events("a1", [event(2)], second)
    await store.flush()
    await client.aclose()
    assert first.committed_to == 1 and first.failure is None
    assert second.failure is not None and "fenced" in second.failure
    assert fenced == ["a1"] and store.fenced("a1")
    assert [e.position for e in await store.load_events("a1")] == [1]
    with pytest.raises(StoreError, match="fenced"):
        await store.update_audit("a1", status="error", error_code="cancelled")
    taken = await store.get_audit("a1")
    assert taken is not None and taken.status == "running"


async def test_events_redis_lost_are_appended_again(store: RedisStore, server: RedisServer) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_events("a1", [event(1), event(2), event(3)])
    await store.flush()
    await server.restart()  # no persistence: every key is gone
    listener = Listener()
    store.append_events("a1", [event(4), event(5)], listener)
    await store.flush()
    assert listener.committed_to == 5 and listener.failure is None
    assert await store.load_events("a1") == [event(p) for p in range(1, 6)]
    restored = await store.get_audit("a1")
    assert restored is not None and restored.status == "running"
    assert [r.id for r in await store.unfinished()] == ["a1"]


async def test_a_record_update_is_ordered_after_the_events_before_it(store: RedisStore) -> None:
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_event("a1", event(1))
    store.append_event("a1", event(2, "audit_complete"))
    await store.update_audit("a1", status="complete")
    assert len(await store.load_events("a1")) == 2


async def test_close_sends_what_is_pending(server: RedisServer) -> None:
    store = RedisStore(server.url)
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_event("a1", event(1))
    await store.close()
    client = await raw(server)
    assert await client.xlen("veritas:events:a1") == 1
    await client.aclose()


async def test_list_is_newest_first_paged_filtered_and_without_results(store: RedisStore) -> None:
    for index in range(5):
        status = "running" if index == 2 else "complete"
        await store.create_audit(record(f"a{index}", float(index), status=status))
    await store.update_audit("a4", result={"trust_score": 1})
    listed = await store.list_audits(status=None, limit=10, before=None)
    assert [r.id for r in listed] == ["a4", "a3", "a2", "a1", "a0"]
    assert all(r.result is None for r in listed)
    page = await store.list_audits(status=None, limit=2, before="a3")
    assert [r.id for r in page] == ["a2", "a1"]
    done = await store.list_audits(status="complete", limit=10, before=None)
    assert [r.id for r in done] == ["a4", "a3", "a1", "a0"]
    record_a4 = await store.get_audit("a4")
    assert record_a4 is not None and record_a4.result == {"trust_score": 1}


async def test_unfinished_lists_queued_and_running_audits_only(store: RedisStore) -> None:
    for audit_id, status in [("q", "queued"), ("r", "running"), ("c", "complete"), ("e", "error")]:
        await store.create_audit(record(audit_id, time.time(), status=status))
    assert sorted(r.id for r in await store.unfinished()) == ["q", "r"]


async def test_update_refuses_unknown_fields(store: RedisStore) -> None:
    await store.create_audit(record("a1", 1.0))
    with pytest.raises(TypeError):
        await store.update_audit("a1", colour="red")
    with pytest.raises(TypeError):
        await store.update_audit("a1", id="other")


async def test_a_duplicate_audit_id_is_a_store_error(store: RedisStore) -> None:
    await store.create_audit(record("a1", 1.0))
    with pytest.raises(StoreError):
        await store.create_audit(record("a1", 2.0))
    assert store.failure is None


async def test_past_the_backlog_bound_events_are_dropped_but_terminals_kept(
    server: RedisServer,
) -> None:
    store = RedisStore(server.url, RedisSettings(max_pending_bytes=200))
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    listener = Listener()
    kept = [p for p in range(1, 21) if store.append_events("a1", [event(p)], listener)]
    assert 0 < len(kept) < 20
    assert store.dropped_events == 20 - len(kept)
    store.append_events("a1", [terminal(len(kept) + 1)], listener)  # over the bound, still taken
    await store.flush()
    assert listener.committed_to == len(kept) + 1
    await store.close()


async def test_text_redis_would_garble_is_refused_and_the_store_goes_on(
    store: RedisStore,
) -> None:
    with pytest.raises(StoreRefused, match="url"):
        await store.create_audit(replace(record("a1", 1.0), url="http://h/?\ud800"))
    with pytest.raises(StoreRefused, match="event data"):
        store.append_events("a1", [StoredEvent(1, "log_entry", '"\udc80"')])
    await store.create_audit(record("a2", 2.0))
    with pytest.raises(StoreRefused, match="error"):
        await store.update_audit("a2", error="\ud800 lone")
    assert store.failure is None


async def test_a_finished_audit_expires_after_the_retention_age(server: RedisServer) -> None:
    store = RedisStore(server.url, RedisSettings(expire_seconds=3600))
    await store.open()
    await store.create_audit(record("a1", 1.0, status="running"))
    store.append_events("a1", [event(1), terminal(2)])
    await store.update_audit("a1", status="error")
    client = await raw(server)
    assert 0 < await client.ttl("veritas:events:a1") <= 3600
    assert 0 < await client.ttl("veritas:audit:a1") <= 3600
    await client.delete("veritas:audit:a1", "veritas:events:a1")  # as expiry does
    await client.aclose()
    assert await store.list_audits(status=None, limit=5, before=None) == []
    await store.close()


async def test_an_unreachable_redis_is_a_store_error_at_open() -> None:
    from tests.server.server_process import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreError, match="cannot reach"):
        await store.open()


def test_the_embedded_mode_never_imports_redis() -> None:
    code = (
        "import sys, server.api.app, server.__main__, server.config\n"
        "from server.api.app import create_app\n"
        "from server.config import ServerConfig\n"
        "create_app(ServerConfig(data_dir=None))\n"
        "print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
