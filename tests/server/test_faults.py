"""Faults, as the clients of the event stream see them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from server.api.app import create_app
from tests.server.harness import (
    TARGET,
    event_data,
    finished,
    ids,
    messages,
    read_stream,
    service_config,
    start_audit,
    status_of,
    types,
    until,
)


async def read_until_type(response: ClientResponse, wanted: str, count: int = 1) -> bytes:
    """Read a live stream until `count` events of type `wanted` have arrived; the bytes read."""
    raw = b""
    while sum(m.type == wanted for m in messages(raw)) < count:
        raw += await response.content.readuntil(b"\n\n")
    return raw


def pid_of_worker(raw: bytes) -> int:
    started = next(m for m in messages(raw) if m.type == "audit_started")
    pid = event_data(started)["pid"]
    assert isinstance(pid, int)
    return pid


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_sigkilled_worker_gives_every_event_it_sent_then_crashed(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("hang", worker_options={"after": 5})
    client: TestClient = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    response = await client.get(f"/audits/{audit_id}/events")
    # Events 1..5 are in (the second phase_complete is the 5th): the worker now hangs.
    seen = await read_until_type(response, "phase_complete", 2)
    os.kill(pid_of_worker(seen), signal.SIGKILL)
    found = messages(seen + await response.read())  # the live stream, to its end
    worker = [event_data(m)["seq"] for m in found if event_data(m)["seq"] > 0]
    assert worker == [1, 2, 3, 4, 5]
    assert ids(found) == list(range(1, len(found) + 1))
    last = event_data(found[-1])
    assert (found[-1].type, last["code"]) == ("audit_error", "crashed")
    assert "SIGKILL" in last["error"]
    assert await status_of(client, audit_id) == "error"


async def test_garbage_on_the_pipe_falls_back_with_a_complete_duplicate_free_stream(
    aiohttp_client,  # type: ignore[no-untyped-def]
) -> None:
    config = service_config("garbage", worker_options={"after": 3})
    client: TestClient = await aiohttp_client(create_app(config))
    response = await client.post(
        "/audits", json={"url": TARGET, "ipc": "pipe"}, headers={"Accept": "text/event-stream"}
    )
    found = messages(await response.read())
    assert ids(found) == list(range(1, len(found) + 1))
    assert types(found).count("ipc_fallback") == 1
    fallback = event_data(found[types(found).index("ipc_fallback")])
    assert (fallback["from"], fallback["to"]) == ("pipe", "stdout")
    worker_seqs = [event_data(m)["seq"] for m in found if event_data(m)["seq"] > 0]
    assert worker_seqs == list(range(1, len(worker_seqs) + 1))
    assert types(found)[-2:] == ["audit_result", "audit_complete"]


async def test_a_subscriber_that_never_reads_is_closed_and_others_are_unaffected(
    aiohttp_client,  # type: ignore[no-untyped-def]
) -> None:
    config = service_config("flood", worker_options={"count": 50_000}, slow_subscriber_deadline=0.5)
    client: TestClient = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    stuck = await _open_stuck_subscriber(client, audit_id)
    try:
        full = messages(await read_stream(client, audit_id))
        assert ids(full) == list(range(1, len(full) + 1))
        assert full[-1].type == "audit_complete"

        async def stuck_one_closed() -> bool:
            health = await (await client.get("/healthz")).json()
            return bool(health["slow_subscribers_closed"] == 1 and health["subscribers"] == 0)

        await until(stuck_one_closed)
        received = await asyncio.to_thread(_drain, stuck)
        assert b"event: audit_complete" not in received
        assert len(received) < sum(len(m.data) for m in full)
    finally:
        stuck.close()


async def _open_stuck_subscriber(client: TestClient, audit_id: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (client.host, client.port))
    request = f"GET /audits/{audit_id}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    await loop.sock_sendall(sock, request)
    return sock


def _drain(sock: socket.socket) -> bytes:
    sock.setblocking(True)
    sock.settimeout(10)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


async def test_the_101st_queued_audit_gets_429_with_retry_after(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("hang", worker_options={"after": 1}, max_workers=1)
    client: TestClient = await aiohttp_client(create_app(config))
    for _ in range(1 + config.max_queued):
        await start_audit(client)
    response = await client.post("/audits", json={"url": TARGET})
    assert response.status == 429
    assert response.headers["Retry-After"] == str(config.retry_after)
    assert (await response.json())["error"]["code"] == "queue_full"
    health = await (await client.get("/healthz")).json()
    assert (health["running"], health["queued"]) == (1, 100)


async def test_delete_mid_audit_kills_the_worker_and_ends_with_cancelled(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("hang", worker_options={"after": 3})
    client: TestClient = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    response = await client.get(f"/audits/{audit_id}/events")
    pid = pid_of_worker(await read_until_type(response, "phase_start"))
    deleted = await client.delete(f"/audits/{audit_id}")
    assert deleted.status == 200
    body = await deleted.json()
    assert (body["status"], body["error_code"]) == ("error", "cancelled")
    assert process_gone(pid)
    found = messages(await read_stream(client, audit_id))
    assert found[-1].type == "audit_error"
    assert event_data(found[-1])["code"] == "cancelled"
    assert types(found).count("audit_error") == 1
    await response.read()  # the live stream ended too


async def test_delete_of_a_queued_audit_cancels_it_without_a_worker(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("hang", worker_options={"after": 1}, max_workers=1)
    client: TestClient = await aiohttp_client(create_app(config))
    await start_audit(client)
    queued = await start_audit(client)
    assert (await client.delete(f"/audits/{queued}")).status == 200
    found = messages(await read_stream(client, queued))
    assert types(found) == ["audit_queued", "audit_error"]
    assert event_data(found[-1])["code"] == "cancelled"


async def test_a_client_that_disconnects_does_not_stop_its_audit(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("flood", worker_options={"count": 20_000})
    client: TestClient = await aiohttp_client(create_app(config))
    response = await client.post(
        "/audits", json={"url": TARGET}, headers={"Accept": "text/event-stream"}
    )
    audit_id = response.headers["Location"].rsplit("/", 1)[1]
    await response.content.readuntil(b"event: hello\n")
    response.close()
    await finished(client, audit_id)
    assert await status_of(client, audit_id) == "complete"
    assert messages(await read_stream(client, audit_id))[-1].type == "audit_complete"


async def test_the_tier_time_limit_ends_the_audit_with_timeout(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    limits = {"quick_scan": 0.5, "standard_audit": 90.0, "deep_forensic": 180.0}
    config = service_config("sleep", tier_seconds=limits, time_margin=0.0, kill_grace=0.2)
    client: TestClient = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client, tier="quick_scan")
    found = messages(await read_stream(client, audit_id))
    assert types(found)[:3] == ["audit_queued", "audit_started", "hello"]
    assert (found[-1].type, event_data(found[-1])["code"]) == ("audit_error", "timeout")


async def test_a_worker_that_cannot_start_ends_with_spawn_failed(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config(worker_command=("./no-such-worker-program",))
    client: TestClient = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    found = messages(await read_stream(client, audit_id))
    assert types(found) == ["audit_queued", "audit_error"]
    assert event_data(found[-1])["code"] == "spawn_failed"
    assert await status_of(client, audit_id) == "error"
