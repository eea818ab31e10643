"""CORS on a real aiohttp app: allowed origins, the preflight for Last-Event-ID, streams too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.api.app import create_app
from server.api.auth import auth_middleware
from server.api.cors import CorsPolicy, install_cors
from tests.server.harness import TARGET, service_config

ORIGIN = "http://app.test:8000"
Client = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def created(request: web.Request) -> web.Response:
    return web.json_response({"id": "x"}, status=202, headers={"Location": "/audits/x"})


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": hello\n\n")
    return response


def make_app(origins: str, token: str | None = None) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(token)] if token else [])
    install_cors(app, CorsPolicy.parse(origins))
    app.router.add_post("/audits", created)
    app.router.add_get("/audits/{id}/events", stream)
    return app


def preflight_headers(
    origin: str, method: str = "GET", headers: str = "last-event-id"
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_the_preflight_for_last_event_id_is_answered(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(f"{ORIGIN}, https://other.test"))
    response = await client.options("/audits/x/events", headers=preflight_headers(ORIGIN))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"last-event-id", "authorization", "content-type"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]


async def test_a_preflight_passes_the_token_check(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN, token="t"))
    headers = preflight_headers(ORIGIN, "POST", "authorization, content-type")
    response = await client.options("/audits", headers=headers)
    assert response.status == 204


async def test_a_preflight_from_another_origin_is_refused(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN))
    response = await client.options("/audits", headers=preflight_headers("http://evil.test"))
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (await response.json())["error"]["code"] == "cors_refused"


async def test_a_preflight_asking_for_other_headers_is_refused(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN))
    response = await client.options(
        "/audits", headers=preflight_headers(ORIGIN, "POST", "x-custom")
    )
    assert response.status == 403


async def test_responses_to_an_allowed_origin_carry_the_headers(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN))
    response = await client.post("/audits", headers={"Origin": ORIGIN})
    assert response.status == 202
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    events = await client.get("/audits/x/events", headers={"Origin": ORIGIN})
    assert events.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert await events.read() == b": hello\n\n"


async def test_responses_to_other_origins_carry_none(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN))
    response = await client.post("/audits", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await client.post("/audits")
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_401_carries_the_cors_headers(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(ORIGIN, token="t"))
    response = await client.post("/audits", headers={"Origin": ORIGIN})
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_the_wildcard_allows_any_origin(aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app("*"))
    response = await client.options("/audits", headers=preflight_headers("http://x.test"))
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "bad", ["app.test", "ftp://a.test", "http://a.test/path", "*, http://a.test"]
)
def test_a_bad_origin_list_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        CorsPolicy.parse(bad)


# -- the wired application: VERITAS_CORS_ORIGINS


async def test_the_service_answers_the_preflight_of_an_event_stream_resume(
    aiohttp_client: Client,
) -> None:
    config = service_config(cors_origins=(ORIGIN,), api_token="t")
    client = await aiohttp_client(create_app(config))
    response = await client.options(
        "/audits/AAAAAAAAAAAAAAAAAAAAAA/events",
        headers=preflight_headers(ORIGIN, "GET", "last-event-id, authorization"),
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    created = await client.post(
        "/audits", json={"url": TARGET}, headers={"Origin": ORIGIN, "Authorization": "Bearer t"}
    )
    assert created.status == 202
    assert created.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Location" in created.headers["Access-Control-Expose-Headers"]


async def test_the_service_sends_no_cors_headers_when_none_are_configured(
    aiohttp_client: Client,
) -> None:
    client = await aiohttp_client(create_app(service_config()))
    response = await client.get("/audits", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
