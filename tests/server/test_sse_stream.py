"""Event streams as clients see them: curl, httpx-sse, late joiners, resumes, the end."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiohttp.test_utils import TestClient
from httpx_sse import aconnect_sse

from server.api.app import create_app
from server.api.state import CONFIG
from tests.server.harness import (
    TARGET,
    TERMINAL,
    event_data,
    finished,
    ids,
    messages,
    read_stream,
    service_config,
    start_audit,
    types,
)

WORKER_TYPES = ["hello"] + ["phase_start", "phase_complete"] * 3 + ["phase_start", "finding"]
WORKER_TYPES += ["phase_complete"] + ["phase_start", "phase_complete"] * 2 + ["audit_result"]
EXPECTED_TYPES = ["audit_queued", "audit_started", *WORKER_TYPES, "audit_complete"]


@pytest.fixture
async def client(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config()))


async def test_a_full_audit_over_curl_is_contiguous_and_ends_with_the_terminal_event(
    client: TestClient,
) -> None:
    url = str(client.make_url("/audits"))
    curl = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-N", "-D", "-", "-H", "Accept: text/event-stream",
        "-d", json.dumps({"url": TARGET}), url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(curl.communicate(), 60)
    assert curl.returncode == 0  # curl saw the stream end cleanly
    head, _, body = output.partition(b"\r\n\r\n")
    assert b"HTTP/1.1 200" in head
    assert b"location: /audits/" in head.lower()
    found = messages(body)
    assert ids(found) == list(range(1, len(EXPECTED_TYPES) + 1))
    assert types(found) == EXPECTED_TYPES
    worker_seqs = [event_data(m)["seq"] for m in found if m.type in WORKER_TYPES]
    assert worker_seqs == list(range(1, len(WORKER_TYPES) + 1))


async def test_a_full_audit_over_httpx_sse(client: TestClient) -> None:
    audit_id = await start_audit(client)
    received = []
    async with (
        httpx.AsyncClient(timeout=60) as http,
        aconnect_sse(http, "GET", str(client.make_url(f"/audits/{audit_id}/events"))) as source,
    ):
        assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
        async for sse in source.aiter_sse():
            if not sse.data:
                continue  # httpx-sse also yields the bare `retry:` field block
            received.append((int(sse.id), sse.event))
    assert [position for position, _ in received] == list(range(1, len(EXPECTED_TYPES) + 1))
    assert [kind for _, kind in received] == EXPECTED_TYPES


async def test_stream_headers_opening_comment_and_retry(client: TestClient) -> None:
    audit_id = await start_audit(client)
    response = await client.get(f"/audits/{audit_id}/events")
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache, no-transform"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response.headers
    body = await response.read()
    assert body.startswith(f": audit {audit_id}\n".encode())
    assert client.app is not None
    config = client.app[CONFIG]
    retry = int(body.split(b"retry: ", 1)[1].split(b"\n", 1)[0])
    assert config.retry_ms <= retry <= config.retry_ms + config.retry_jitter_ms


async def test_two_subscribers_one_late_see_identical_sequences(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("flood", worker_options={"count": 2000})
    client = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    early = asyncio.create_task(read_stream(client, audit_id))
    first = await client.get(f"/audits/{audit_id}/events")
    await first.content.readuntil(b"id: 100\n")  # the audit is well under way
    late = await read_stream(client, audit_id)
    first.close()
    early_messages = messages(await early)
    assert early_messages == messages(late)
    assert ids(early_messages) == list(range(1, len(early_messages) + 1))
    assert early_messages[-1].type == "audit_complete"


async def test_resume_from_every_position_gives_exactly_the_rest(client: TestClient) -> None:
    audit_id = await start_audit(client)
    full = messages(await read_stream(client, audit_id))
    n = len(full)
    for k in range(n):
        rest = messages(await read_stream(client, audit_id, **{"Last-Event-ID": str(k)}))
        assert rest == full[k:], f"resume after {k}"
    query = await client.get(f"/audits/{audit_id}/events", params={"last_event_id": str(n - 2)})
    assert messages(await query.read()) == full[n - 2 :]


async def test_a_reconnect_after_the_terminal_event_gets_204(client: TestClient) -> None:
    audit_id = await start_audit(client)
    full = messages(await read_stream(client, audit_id))
    assert full[-1].type in TERMINAL
    response = await client.get(
        f"/audits/{audit_id}/events", headers={"Last-Event-ID": full[-1].last_event_id}
    )
    assert response.status == 204
    assert await response.read() == b""


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999999999999999", "\u0661"])
async def test_a_malformed_last_event_id_is_400(client: TestClient, bad: str) -> None:
    audit_id = await start_audit(client)
    response = await client.get(f"/audits/{audit_id}/events", params={"last_event_id": bad})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_last_event_id"
    assert error["field"] == "last_event_id"


async def test_a_last_event_id_beyond_the_log_is_400(client: TestClient) -> None:
    audit_id = await start_audit(client)
    await finished(client, audit_id)
    response = await client.get(f"/audits/{audit_id}/events", headers={"Last-Event-ID": "500"})
    assert response.status == 400
    assert "beyond" in (await response.json())["error"]["message"]


async def test_pings_keep_an_idle_stream_alive(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config = service_config("hang", worker_options={"after": 1}, ping_interval=0.05)
    client = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    response = await client.get(f"/audits/{audit_id}/events")
    chunk = await asyncio.wait_for(response.content.readuntil(b": ping\n"), 30)
    assert b"event: hello" in chunk or b"event: audit_started" in chunk
    await client.delete(f"/audits/{audit_id}")
    assert messages(await response.read())[-1].type == "audit_error"


async def test_a_finished_audit_out_of_memory_replays_from_the_store(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(service_config(max_finished_logs=1)))
    first = await start_audit(client)
    expected = await read_stream(client, first)
    second = await start_audit(client)
    await finished(client, second)  # pushes the first out of memory
    assert messages(await read_stream(client, first)) == messages(expected)
    assert (await (await client.get(f"/audits/{first}")).json())["status"] == "complete"


@pytest.mark.parametrize("ipc", ["pipe", "stdout", "validate"])
async def test_every_ipc_mode_gives_the_same_stream(client: TestClient, ipc: str) -> None:
    audit_id = await start_audit(client, ipc=ipc)
    found = messages(await read_stream(client, audit_id))
    assert types(found) == EXPECTED_TYPES
    assert event_data(found[0])["ipc"] == ipc
    assert ids(found) == list(range(1, len(found) + 1))
