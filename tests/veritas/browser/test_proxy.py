"""The guarded proxy alone, driven by an HTTP client: deny by default, limits per audit."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from tests.veritas.browser.conftest import ALLOWED, check, lookup
from tests.veritas.browser.site import SiteState, serve_site
from veritas.browser.proxy import GuardedProxy
from veritas.browser.settings import BrowserSettings
from veritas.resolver import GuardedResolver


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serve_site(SiteState()) as site_port:
        yield site_port


async def get(proxy: GuardedProxy, url: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, proxy=f"http://{proxy.address}", allow_redirects=False) as response,
    ):
        return response.status, await response.read()


def guarded(**limits: int) -> GuardedProxy:
    return GuardedProxy(GuardedResolver(False, lookup, check), BrowserSettings(**limits))


async def test_an_allowed_host_is_relayed_and_its_name_resolved_once(port: int) -> None:
    async with guarded() as proxy:
        for _ in range(3):
            status, body = await get(proxy, f"http://{ALLOWED}:{port}/clean")
            assert status == 200 and b"Corner Shop" in body
        assert proxy.resolver.resolved == {ALLOWED: ["127.0.0.1"]}
        assert (proxy.stats.requests, proxy.stats.refused) == (3, 0)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/clean",
        "http://2130706433:{port}/clean",
        "http://private.test:{port}/",
    ],
)
async def test_private_addresses_in_any_notation_are_refused(port: int, url: str) -> None:
    async with guarded() as proxy:
        status, _ = await get(proxy, url.format(port=port))
        assert status == 403
        assert proxy.stats.refusals[0].target == url.format(port=port)


async def test_requests_past_the_audits_limit_are_refused(port: int) -> None:
    async with guarded(max_requests=2) as proxy:
        statuses = [(await get(proxy, f"http://{ALLOWED}:{port}/clean"))[0] for _ in range(3)]
        assert statuses == [200, 200, 403]
        assert "limit of 2 requests" in proxy.stats.refusals[0].reason


async def test_bytes_past_the_audits_limit_cut_the_response(port: int) -> None:
    async with guarded(max_bytes=100) as proxy:
        with pytest.raises(aiohttp.ClientError):
            await get(proxy, f"http://{ALLOWED}:{port}/clean")
        assert proxy.stats.bytes_in > 100


async def test_an_endpoint_the_operator_let_through_is_relayed_and_no_other_port(
    port: int,
) -> None:
    resolver = GuardedResolver(False, lookup, check)
    allowed = frozenset({("127.0.0.1", port)})
    async with GuardedProxy(resolver, BrowserSettings(), allowed) as proxy:
        status, body = await get(proxy, f"http://127.0.0.1:{port}/clean")
        assert status == 200 and b"Corner Shop" in body
        status, _ = await get(proxy, f"http://127.0.0.1:{port + 1}/clean")
        assert status == 403
        assert [r.target for r in proxy.stats.refusals] == [f"http://127.0.0.1:{port + 1}/clean"]
