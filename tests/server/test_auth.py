"""The bearer token middleware on a real aiohttp app: required, checked, /healthz open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.api.app import create_app
from server.api.auth import auth_middleware
from tests.server.harness import TARGET, service_config

TOKEN = "s3cret-token"
Client = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": request.path})


def make_app() -> web.Application:
    app = web.Application(middlewares=[auth_middleware(TOKEN)])
    app.router.add_get("/healthz", ok)
    app.router.add_get("/", ok)
    app.router.add_get("/{path:static.*}", ok)
    app.router.add_get("/audits/static/x", ok)
    app.router.add_get("/audits", ok)
    app.router.add_post("/audits", ok)
    app.router.add_get("/audits/{id}", ok)
    app.router.add_get("/audits/{id}/events", ok)
    return app


@pytest.fixture
async def client(aiohttp_client: Client) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(make_app())


async def test_healthz_needs_no_token(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200


async def test_the_page_and_its_files_need_no_token(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ("/", "/static/app.js"):
        assert (await client.get(path)).status == 200, path
    for path in ("/static", "/staticx", "/audits/static/x"):
        assert (await client.get(path)).status == 401, path


@pytest.mark.parametrize(
    "method,path", [("GET", "/audits"), ("POST", "/audits"), ("GET", "/audits/x")]
)
async def test_a_request_without_a_token_gets_401_json(
    client: TestClient[web.Request, web.Application], method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="veritas"'
    body = await response.json()
    assert body["error"]["code"] == "missing_token"


async def test_a_wrong_token_gets_401_invalid_token(
    client: TestClient[web.Request, web.Application],
) -> None:
    for header in ("Bearer s3cret-tokeN", "Bearer s3cret-token-longer", "Basic abc", "Bearer"):
        response = await client.get("/audits", headers={"Authorization": header})
        assert response.status == 401, header
        assert "invalid_token" in response.headers["WWW-Authenticate"]
        assert (await response.json())["error"]["code"] == "bad_token"


async def test_the_right_token_passes(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/audits", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    response = await client.get("/audits", headers={"Authorization": f"bearer   {TOKEN}"})
    assert response.status == 200


async def test_the_query_token_is_accepted_on_the_events_route_only(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get(f"/audits/abc/events?access_token={TOKEN}")
    assert response.status == 200
    response = await client.get("/audits/abc/events?access_token=wrong")
    assert response.status == 401
    response = await client.get(f"/audits?access_token={TOKEN}")
    assert response.status == 401
    response = await client.get(f"/audits/abc?access_token={TOKEN}")
    assert response.status == 401


async def test_a_header_token_wins_over_the_query_token(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get(
        f"/audits/abc/events?access_token={TOKEN}", headers={"Authorization": "Bearer nope"}
    )
    assert response.status == 401


async def test_a_cors_preflight_passes_without_a_token(
    client: TestClient[web.Request, web.Application],
) -> None:
    # Nothing answers OPTIONS in this app: the router's 405 shows the middleware let it by.
    response = await client.options(
        "/audits", headers={"Origin": "http://a.test", "Access-Control-Request-Method": "POST"}
    )
    assert response.status == 405


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError):
        auth_middleware("")


# -- the wired application: VERITAS_API_TOKEN on every route but /healthz


async def test_the_service_requires_its_token_everywhere_but_healthz(
    aiohttp_client: Client,
) -> None:
    client = await aiohttp_client(create_app(service_config(api_token=TOKEN)))
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/")).status == 200
    for method, path in [("GET", "/audits"), ("GET", "/metrics"), ("POST", "/audits")]:
        assert (await client.request(method, path)).status == 401, path
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.get("/metrics", headers=bearer)).status == 200
    response = await client.post("/audits", json={"url": TARGET}, headers=bearer)
    assert response.status == 202
    audit_id = (await response.json())["id"]
    assert (await client.get(f"/audits/{audit_id}/events")).status == 401
    stream = await client.get(f"/audits/{audit_id}/events?access_token={TOKEN}")
    assert stream.status == 200
    assert b"event: audit_complete" in await stream.read()
    wrong = await client.get(f"/audits/{audit_id}/events?access_token=x{TOKEN}")
    assert wrong.status == 401


async def test_without_a_token_configured_the_service_is_open(aiohttp_client: Client) -> None:
    client = await aiohttp_client(create_app(service_config()))
    assert (await client.get("/audits")).status == 200
