"""Input that must not stop the service: every bad request is a 4xx with a JSON error.

Served the way `python -m server` serves, on a real socket, with the server's log captured:
none of these may log an error or a traceback.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol.events import SECURITY_MODULES
from tests.server.edge_site import EdgeSite, edge_site, exchange, split_response
from tests.server.harness import TARGET, service_config, until


@pytest.fixture
async def site(caplog: pytest.LogCaptureFixture) -> AsyncIterator[EdgeSite]:
    caplog.set_level(logging.DEBUG)
    async with edge_site(service_config(port=0)) as running:
        yield running
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


async def request(site: EdgeSite, method: str, path: str, **options: Any) -> tuple[int, str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, site.base + path, **options) as response,
    ):
        body = await response.read()
        kind = response.headers.get("Content-Type", "")
        return response.status, kind, json.loads(body) if "json" in kind else body


async def error_of(site: EdgeSite, method: str, path: str, **options: Any) -> tuple[int, Any]:
    status, kind, body = await request(site, method, path, **options)
    assert kind.startswith("application/json"), (status, kind, body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    return status, body["error"]


def post(body: bytes, **headers: str) -> dict[str, Any]:
    return {"data": body, "headers": headers}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"url": "http://host/?\\ud800"}', "url"),
        (b'{"url": "http://host/\\udfff"}', "url"),
        (b'{"url": "http://127.0.0.1:9/", "tier": "quick\\ud800"}', "tier"),
        (b'{"url": "http://127.0.0.1:9/", "verdict_mode": "\\udc80"}', "verdict_mode"),
        (b'{"url": "http://127.0.0.1:9/", "ipc": "\\ud800"}', "ipc"),
        (b'{"url": "http://127.0.0.1:9/", "security_modules": ["tls", "\\ud800"]}',
         "security_modules"),
        (b'{"url": "http://127.0.0.1:9/", "extra": {"deep": ["\\ud800"]}}', "extra"),
        (b'{"url": "http://127.0.0.1:9/", "\\ud800": 1}', None),
    ],
)  # fmt: skip
async def test_a_lone_surrogate_in_any_string_is_400_naming_the_field(
    site: EdgeSite, body: bytes, field: str | None
) -> None:
    status, error = await error_of(site, "POST", "/audits", **post(body))
    assert (status, error["code"], error["field"]) == (400, "bad_text", field)
    listed = await request(site, "GET", "/audits")
    assert listed[2]["audits"] == []  # nothing reached the store


async def test_the_service_keeps_taking_audits_after_a_lone_surrogate(tmp_path: Path) -> None:
    async with edge_site(service_config(port=0, data_dir=tmp_path)) as on_disk:
        surrogate = post(b'{"url": "http://host/?\\ud800"}')
        assert (await error_of(on_disk, "POST", "/audits", **surrogate))[0] == 400
        status, _, body = await request(on_disk, "POST", "/audits", json={"url": TARGET})
        assert status == 202, body

        async def ended() -> bool:
            record = await request(on_disk, "GET", f"/audits/{body['id']}")
            return record[2]["status"] in ("complete", "error")

        await until(ended)


async def test_an_unknown_security_module_is_400_naming_the_field_and_the_known_ones(
    site: EdgeSite,
) -> None:
    body = {"url": TARGET, "security_modules": ["no_such_module"]}
    status, error = await error_of(site, "POST", "/audits", json=body)
    assert (status, error["field"]) == (400, "security_modules")
    assert "no_such_module" in error["message"]
    assert all(name in error["message"] for name in SECURITY_MODULES)


async def test_every_known_security_module_is_accepted(site: EdgeSite) -> None:
    body = {"url": TARGET, "security_modules": list(SECURITY_MODULES)}
    status, _, answer = await request(site, "POST", "/audits", json=body)
    assert status == 202, answer


async def test_gzip_declared_on_a_plain_json_body_is_400(site: EdgeSite) -> None:
    body = json.dumps({"url": TARGET}).encode()
    status, error = await error_of(site, "POST", "/audits", **post(body, **GZIP))
    assert (status, error["code"]) == (400, "bad_body")
    assert "gzip" in error["message"]


async def test_a_real_gzip_body_is_read(site: EdgeSite) -> None:
    body = gzip.compress(json.dumps({"url": TARGET}).encode())
    status, _, answer = await request(site, "POST", "/audits", **post(body, **GZIP))
    assert status == 202, answer


async def test_gzip_declared_on_a_body_a_route_ignores_is_no_error(site: EdgeSite) -> None:
    status, _, body = await request(site, "GET", "/healthz", **post(b"plain", **GZIP))
    assert (status, body["status"]) == (200, "ok")


async def test_an_encoding_the_server_cannot_decode_is_400_json(site: EdgeSite) -> None:
    # Without the Brotli package aiohttp refuses `br` before any handler runs; with it,
    # decoding this plain body fails in the handler. Either way: a JSON 400.
    body = b'{"url": "http://127.0.0.1:9/"}'
    headers = {"Content-Encoding": "br"}
    status, error = await error_of(site, "POST", "/audits", **post(body, **headers))
    assert (status, error["code"] in ("bad_request", "bad_body")) == (400, True)


GZIP = {"Content-Encoding": "gzip"}


@pytest.mark.parametrize("encoding", ["deflate", "compress", "x-unheard-of"])
async def test_a_body_encoding_other_than_gzip_is_refused(site: EdgeSite, encoding: str) -> None:
    body = post(b"[]", **{"Content-Encoding": encoding})
    status, error = await error_of(site, "POST", "/audits", **body)
    # aiohttp itself may refuse a deflate body it fails to decode (400) before the route
    # sees the header (415); what it must never do is leave the request hanging.
    expected = {(415, "unsupported_encoding"), (400, "bad_request")}
    assert (status, error["code"]) in expected


@pytest.mark.parametrize(
    "limit", ["\u00b2", "\u0663", "\uff11", "9" * 5000, "1" * 12, "-1", "+5", " 5", "1e3", "0"]
)
async def test_a_limit_that_is_no_small_ascii_number_is_400(site: EdgeSite, limit: str) -> None:
    status, error = await error_of(site, "GET", "/audits", params={"limit": limit})
    assert (status, error["field"]) == (400, "limit")


async def test_a_malformed_request_head_gets_a_json_400(site: EdgeSite) -> None:
    raw = await exchange(site.port, b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
    status, headers, body = split_response(raw)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"


async def test_a_client_leaving_mid_body_is_a_quiet_debug_line(
    site: EdgeSite, caplog: pytest.LogCaptureFixture
) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", site.port)
    head = b"POST /audits HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    writer.write(head + b'{"url": "http://127.0.0.1:9/", ')
    await writer.drain()
    await asyncio.sleep(0.2)  # let the handler start reading the body
    writer.close()

    async def logged() -> bool:
        return any("client left" in r.getMessage() for r in caplog.records)

    await until(logged, 10)
    line = next(r for r in caplog.records if "client left" in r.getMessage())
    assert (line.levelno, line.exc_info) == (logging.DEBUG, None)


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/", "/static/../server.py"])
async def test_a_miss_under_static_is_a_json_404(site: EdgeSite, path: str) -> None:
    status, error = await error_of(site, "GET", path)
    assert (status, error["code"]) == (404, "not_found")


async def test_the_page_files_are_still_served(site: EdgeSite) -> None:
    for name, kind in [("app.js", "javascript"), ("style.css", "text/css")]:
        status, content_type, body = await request(site, "GET", f"/static/{name}")
        assert (status, kind in content_type) == (200, True)
        assert body


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("POST", "/healthz", 405, "method_not_allowed"),
        ("PUT", "/audits", 405, "method_not_allowed"),
        ("POST", "/static/app.js", 405, "method_not_allowed"),
        ("PATCH", "/audits/AAAAAAAAAAAAAAAAAAAAAA", 405, "method_not_allowed"),
    ],
)
async def test_unknown_routes_and_methods_are_json(
    site: EdgeSite, method: str, path: str, status: int, code: str
) -> None:
    got_status, error = await error_of(site, method, path)
    assert (got_status, error["code"]) == (status, code)
