"""Whole audits through the real auditor (`python -m veritas`) against a site served here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.api.app import create_app
from server.config import ServerConfig
from tests.server.harness import event_data, ids, messages, types

PAGE = """<!doctype html>
<html><head><title>Corner Shop</title></head>
<body><h1>Corner Shop</h1><p>Fresh bread every morning.</p>
<a href="/about">About us</a>
<form action="/login" method="post"><input type="password" name="password"></form>
</body></html>"""


@pytest.fixture
async def site() -> AsyncIterator[TestServer]:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    app.router.add_get("/about", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize("ipc", ["pipe", "stdout", "validate"])
async def test_a_real_audit_streams_to_its_result(
    aiohttp_client,  # type: ignore[no-untyped-def]
    site: TestServer,
    ipc: str,
) -> None:
    config = ServerConfig(data_dir=None, allow_private_targets=True)
    client: TestClient = await aiohttp_client(create_app(config))
    response = await client.post(
        "/audits",
        json={"url": str(site.make_url("/")), "tier": "quick_scan", "ipc": ipc},
        headers={"Accept": "text/event-stream"},
    )
    found = messages(await response.read())
    kinds = types(found)
    assert ids(found) == list(range(1, len(found) + 1))
    assert kinds[:3] == ["audit_queued", "audit_started", "hello"], found[-1].data
    assert kinds[-1] == "audit_complete", found[-1].data
    assert kinds.count("audit_complete") + kinds.count("audit_error") == 1
    assert "ipc_fallback" not in kinds
    seqs = [event_data(m)["seq"] for m in found if event_data(m)["seq"] > 0]
    assert seqs == list(range(1, len(seqs) + 1))
    result = event_data(found[kinds.index("audit_result")])["result"]
    assert 0 <= result["trust_score"] <= 100
    audit_id = response.headers["Location"].rsplit("/", 1)[1]
    record = await (await client.get(f"/audits/{audit_id}")).json()
    assert (record["status"], record["trust_score"]) == ("complete", result["trust_score"])
