"""The CORS check end to end: a real preflight to a server on 127.0.0.1, then the grade."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.veritas.worker import worker_env
from veritas.analysis.headers import PREFLIGHT_ORIGIN, grade
from veritas.config import Limits
from veritas.fetch import Fetcher
from veritas.page import Page, Site

LIMITS = Limits(page_timeout=5.0, max_page_bytes=64 * 1024, max_redirects=3, max_header_size=8192)
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def cors_app(seen: list[tuple[str, str, str]]) -> web.Application:
    async def reflect(request: web.Request) -> web.Response:
        seen.append(
            (
                request.method,
                request.headers.get("Origin", ""),
                request.headers.get("Access-Control-Request-Method", ""),
            )
        )
        origin = request.headers.get("Origin", "")
        headers = {"Access-Control-Allow-Origin": origin} if origin else {}
        headers["Access-Control-Allow-Credentials"] = "true"
        return web.Response(text="<html></html>", content_type="text/html", headers=headers)

    async def partner(request: web.Request) -> web.Response:
        headers = {
            "Access-Control-Allow-Origin": "https://partner.example",
            "Access-Control-Allow-Credentials": "true",
        }
        return web.Response(text="<html></html>", content_type="text/html", headers=headers)

    app = web.Application()
    app.router.add_route("*", "/reflect", reflect)
    app.router.add_route("*", "/partner", partner)
    return app


async def graded_cors(url: str) -> str:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        entry = await fetcher.fetch(url)
        preflight: Page = await fetcher.preflight(url, PREFLIGHT_ORIGIN)
    return grade(Site((entry,), cors=preflight)).outcome("cross-origin-resource-sharing").result


async def test_a_reflected_origin_with_credentials_is_universal_access(
    aiohttp_server: ServerFactory,
) -> None:
    seen: list[tuple[str, str, str]] = []
    server = await aiohttp_server(cors_app(seen))
    result = await graded_cors(str(server.make_url("/reflect")))
    assert result == "cross-origin-resource-sharing-implemented-with-universal-access"
    assert ("OPTIONS", PREFLIGHT_ORIGIN, "GET") in seen


async def test_a_fixed_partner_origin_is_restricted_access(aiohttp_server: ServerFactory) -> None:
    server = await aiohttp_server(cors_app([]))
    result = await graded_cors(str(server.make_url("/partner")))
    assert result == "cross-origin-resource-sharing-implemented-with-restricted-access"


async def test_without_a_preflight_a_reflecting_site_cannot_be_caught(
    aiohttp_server: ServerFactory,
) -> None:
    # The entry request sends no Origin, so the server reflects nothing: the preflight is
    # what exposes the reflection.
    server = await aiohttp_server(cors_app([]))
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        entry = await fetcher.fetch(str(server.make_url("/reflect")))
    result = grade(Site((entry,))).outcome("cross-origin-resource-sharing").result
    assert result == "cross-origin-resource-sharing-not-implemented"


async def test_the_auditor_sends_the_preflight_and_reports_the_reflection(
    aiohttp_server: ServerFactory,
) -> None:
    seen: list[tuple[str, str, str]] = []
    server = await aiohttp_server(cors_app(seen))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "veritas",
        str(server.make_url("/reflect")),
        "--tier",
        "quick_scan",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=worker_env(),
    )
    stdout, _ = await proc.communicate()
    assert proc.returncode == 0
    tests = json.loads(stdout)["security_results"]["security_headers"]["tests"]
    cors = next(t for t in tests if t["test"] == "cross-origin-resource-sharing")
    assert (cors["result"], cors["modifier"]) == (
        "cross-origin-resource-sharing-implemented-with-universal-access",
        -50,
    )
    assert ("OPTIONS", PREFLIGHT_ORIGIN, "GET") in seen
