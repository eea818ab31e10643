"""The REST routes: what each answers, and the JSON error every bad request gets."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.api.app import create_app
from tests.server.harness import TARGET, finished, service_config, start_audit


@pytest.fixture
async def client(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config()))


@pytest.fixture
async def guarded(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config(allow_private_targets=False)))


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


async def test_post_answers_202_with_location_and_events_url(client: TestClient) -> None:
    response = await client.post("/audits", json={"url": TARGET, "tier": "quick_scan"})
    assert response.status == 202
    body = await response.json()
    assert set(body) == {"id", "status", "url", "events_url"}
    assert response.headers["Location"] == f"/audits/{body['id']}"
    assert body["events_url"] == f"/audits/{body['id']}/events"
    assert (body["status"], body["url"]) in (("queued", TARGET), ("running", TARGET))


async def test_audit_ids_are_unguessable_and_distinct(client: TestClient) -> None:
    found = {await start_audit(client) for _ in range(5)}
    assert len(found) == 5
    assert all(len(audit_id) == 22 for audit_id in found)


async def test_get_audit_shows_the_result_once_finished(client: TestClient) -> None:
    audit_id = await start_audit(client, security_modules=["headers", "tls"])
    await finished(client, audit_id)
    body = await (await client.get(f"/audits/{audit_id}")).json()
    assert body["status"] == "complete"
    assert body["result"]["trust_score"] == 77
    assert (body["trust_score"], body["risk_level"]) == (77, "low")
    assert body["security_modules"] == ["headers", "tls"]
    assert body["finished_at"] >= body["started_at"] >= body["created_at"]


async def test_list_is_newest_first_filtered_and_paged(client: TestClient) -> None:
    created = [await start_audit(client) for _ in range(3)]
    for audit_id in created:
        await finished(client, audit_id)
    listed = await (await client.get("/audits")).json()
    assert [a["id"] for a in listed["audits"]] == created[::-1]
    assert "result" not in listed["audits"][0]
    page = await (await client.get("/audits", params={"limit": "2"})).json()
    assert [a["id"] for a in page["audits"]] == created[:0:-1]
    rest = await (await client.get("/audits", params={"before": page["next_before"]})).json()
    assert [a["id"] for a in rest["audits"]] == created[:1]
    none = await (await client.get("/audits", params={"status": "queued"})).json()
    assert none["audits"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"status": "done"}, "status"),
     ({"limit": "1000"}, "limit"), ({"before": "../x"}, "before")],
)  # fmt: skip
async def test_list_rejects_bad_parameters(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    error = await error_of(await client.get("/audits", params=params), 400)
    assert error["field"] == field


async def test_healthz(client: TestClient) -> None:
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "bad_json", None),
        (b"[1, 2]", "bad_json", None),
        (b'{"url": 5}', "invalid", "url"),
        (b'{"url": "http://127.0.0.1:9/", "tier": "extreme"}', "invalid", "tier"),
        (b'{"url": "http://127.0.0.1:9/", "tier": 3}', "invalid", "tier"),
        (b'{"url": "http://127.0.0.1:9/", "verdict_mode": "loud"}', "invalid", "verdict_mode"),
        (b'{"url": "http://127.0.0.1:9/", "ipc": "carrier-pigeon"}', "invalid", "ipc"),
        (b'{"url": "http://h/", "security_modules": "tls"}', "invalid", "security_modules"),
        (b'{"url": "http://h/", "security_modules": ["../x"]}', "invalid", "security_modules"),
        (b'{"url": "http://127.0.0.1:9/", "admin": true}', "unknown_field", "admin"),
        (b'{"tier": "quick_scan"}', "missing_field", "url"),
        (b'{"url": "file:///etc/passwd"}', "bad_url", "url"),
        (b'{"url": "javascript:alert(1)"}', "bad_url", "url"),
        (b'{"url": "ftp://127.0.0.1/"}', "bad_url", "url"),
        (b'{"url": "http://"}', "bad_url", "url"),
        (b'{"url": "http://127.0.0.1:99999/"}', "bad_url", "url"),
        (b'{"url": "http://127.0.0.1/a b"}', "bad_url", "url"),
    ],
)  # fmt: skip
async def test_bad_bodies_get_400_naming_the_field(
    client: TestClient, body: bytes, code: str, field: str | None
) -> None:
    error = await error_of(await client.post("/audits", data=body), 400)
    assert (error["code"], error["field"]) == (code, field)


async def test_an_overlong_url_is_400(client: TestClient) -> None:
    url = "http://127.0.0.1/" + "a" * 2048
    error = await error_of(await client.post("/audits", json={"url": url}), 400)
    assert (error["code"], error["field"]) == ("url_too_long", "url")


async def test_a_huge_body_is_413(client: TestClient) -> None:
    body = b'{"url": "http://127.0.0.1/", "x": "' + b"a" * 100_000 + b'"}'
    error = await error_of(await client.post("/audits", data=body), 413)
    assert error["code"] == "body_too_large"


async def test_a_huge_chunked_body_is_413(client: TestClient) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b"a" * 1024

    error = await error_of(await client.post("/audits", data=chunks()), 413)
    assert error["code"] == "body_too_large"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost:8080/", "http://[::1]/", "http://10.1.2.3/",
     "https://169.254.169.254/latest/meta-data/", "http://192.168.0.1/", "http://0.0.0.0/",
     "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://app.localhost/"],
)  # fmt: skip
async def test_private_targets_are_403(guarded: TestClient, url: str) -> None:
    error = await error_of(await guarded.post("/audits", json={"url": url}), 403)
    assert (error["code"], error["field"]) == ("forbidden_target", "url")


async def test_private_targets_are_allowed_when_configured(client: TestClient) -> None:
    assert (await client.post("/audits", json={"url": "http://127.0.0.1/"})).status == 202


@pytest.mark.parametrize("path", ["/audits/{}", "/audits/{}/events"])
@pytest.mark.parametrize("audit_id", ["A" * 22, "nope", "a" * 200])
async def test_unknown_or_malformed_ids_are_404(
    client: TestClient, path: str, audit_id: str
) -> None:
    error = await error_of(await client.get(path.format(audit_id)), 404)
    assert error["code"] == "not_found"
    await error_of(await client.delete(f"/audits/{audit_id}"), 404)


async def test_delete_of_a_finished_audit_is_409(client: TestClient) -> None:
    audit_id = await start_audit(client)
    await finished(client, audit_id)
    error = await error_of(await client.delete(f"/audits/{audit_id}"), 409)
    assert error["code"] == "already_finished"


async def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    assert (await error_of(await client.get("/nowhere"), 404))["code"] == "not_found"
    response = await client.put("/audits")
    assert (await error_of(response, 405))["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


async def test_head_on_an_event_stream_is_405(client: TestClient) -> None:
    audit_id = await start_audit(client)
    response = await client.head(f"/audits/{audit_id}/events")
    assert response.status == 405
