"""The private-address guard in the fetcher and in the process: refused at start, at every hop."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import exits
from protocol.targets import check_addresses, parse_connect_to, parse_endpoints
from tests.veritas.hostile import redirect_to, serve_raw
from tests.veritas.worker import run_worker
from veritas.config import Limits
from veritas.errors import RefusedTarget
from veritas.fetch import Fetcher
from veritas.resolver import AddrInfo, GuardedResolver, GuardRefusal

ALLOWED = "allowed.test"  # the one name this test treats as public; it points at the test site
PRIVATE = "private.test"  # an ordinary name that resolves to a private address


async def lookup(host: str, port: int, family: socket.AddressFamily) -> list[AddrInfo]:
    """Test DNS: both names resolve to the test site on 127.0.0.1."""
    if host not in (ALLOWED, PRIVATE):
        raise socket.gaierror(socket.EAI_NONAME, "unknown test name")
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def check(host: str, addresses: Sequence[str]) -> None:
    """The real rules for every name but ALLOWED."""
    if host != ALLOWED:
        check_addresses(host, addresses)


def guarded_fetcher() -> Fetcher:
    return Fetcher(Limits(page_timeout=5), False, GuardedResolver(False, lookup, check))


def on(host: str, site_url: str, path: str) -> str:
    return f"http://{host}:{urlsplit(site_url).port}{path}"


async def test_the_allowed_name_is_fetched_through_the_resolver(site_url: str) -> None:
    async with guarded_fetcher() as fetcher:
        page = await fetcher.fetch(on(ALLOWED, site_url, "/chain/1"))
    assert page.status == 200
    assert page.ip == "127.0.0.1"
    assert fetcher.resolver.resolved == {ALLOWED: ["127.0.0.1"]}


@pytest.mark.parametrize(
    "hop",
    [
        "http://127.0.0.1:{port}/",
        "http://0x7f.1:{port}/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",
        "http://127\u30020\u30020\u30021:{port}/secret",
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/secret",
        "http://127.0.0\u30021:{port}/secret",
        "http://127\uff0e0\uff0e0\uff0e1:{port}/secret",
        "http://127\uff610\uff610\uff611:{port}/secret",
        "http://169\u3002254\u3002169\u3002254:{port}/",
        "http://192.0.0.8:{port}/",
        "http://[3fff::1]:{port}/",
    ],
)
async def test_a_redirect_to_a_private_literal_is_refused_at_that_hop(
    site_url: str, hop: str
) -> None:
    target = hop.format(port=urlsplit(site_url).port)
    with serve_raw(redirect_to(target.encode())) as port:  # the Location bytes as given
        async with guarded_fetcher() as fetcher:
            with pytest.raises(RefusedTarget, match="only public addresses") as caught:
                await fetcher.fetch(f"http://{ALLOWED}:{port}/")
    assert caught.value.url == target


async def test_a_redirect_to_a_name_that_resolves_privately_is_refused_at_that_hop(
    site_url: str,
) -> None:
    target = on(PRIVATE, site_url, "/")
    url = on(ALLOWED, site_url, "/redirect?to=" + quote(target, safe=""))
    async with guarded_fetcher() as fetcher:
        with pytest.raises(RefusedTarget, match="loopback"):
            await fetcher.fetch(url)
    assert PRIVATE not in fetcher.resolver.resolved


async def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    async def mixed(host: str, port: int, family: socket.AddressFamily) -> list[AddrInfo]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    resolver = GuardedResolver(False, mixed)
    async with Fetcher(Limits(), False, resolver) as fetcher:
        with pytest.raises(RefusedTarget, match=r"10\.1\.2\.3"):
            await fetcher.fetch("http://rebinding.test/")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f.1", "2130706433", "[::1]"])
def test_the_process_refuses_a_private_target_unless_allowed(site_url: str, host: str) -> None:
    url = f"http://{host}:{urlsplit(site_url).port}/"
    run = run_worker(
        [url, "--tier", "quick_scan"], {"VERITAS_ALLOW_PRIVATE_TARGETS": "0"}, "stdout"
    )
    assert run.returncode == exits.NO_RESULT, run.stderr
    (error,) = run.of_type("phase_error")
    assert error["phase"] == "init"
    assert "only public addresses" in error["error"]
    assert run.of_type("audit_result") == []
    assert run.merged()[0].type == "hello"


@pytest.mark.parametrize(
    "host",
    ["127\u30020\u30020\u30021", "\uff11\uff12\uff17.\uff10.\uff10.\uff11", "169\uff0e254.169.254"],
)
def test_the_process_refuses_a_unicode_spelling_of_a_private_first_target(
    site_url: str, host: str
) -> None:
    url = f"http://{host}:{urlsplit(site_url).port}/secret"
    run = run_worker([url, "--tier", "quick_scan"], {"VERITAS_ALLOW_PRIVATE_TARGETS": "0"})
    assert run.returncode == exits.NO_RESULT, run.stderr


FULL_STOPS = st.sampled_from([".", "\u3002", "\uff0e", "\uff61"])
DIGITS = {d: [d, chr(0xFF10 + int(d)), chr(0x1D7CE + int(d))] for d in "0123456789"}


@st.composite
def loopback_spellings(draw: st.DrawFn) -> str:
    address = draw(st.sampled_from(["127.0.0.1", "127.1.2.3", "169.254.169.254"]))
    return "".join(
        draw(FULL_STOPS) if c == "." else draw(st.sampled_from(DIGITS[c])) for c in address
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=loopback_spellings())
async def test_every_spelling_of_a_private_hop_is_refused(site_url: str, host: str) -> None:
    target = f"http://{host}:{urlsplit(site_url).port}/secret"
    url = on(ALLOWED, site_url, "/redirect?to=" + quote(target, safe=""))
    async with guarded_fetcher() as fetcher:
        with pytest.raises(RefusedTarget, match="only public addresses"):
            await fetcher.fetch(url)


async def test_the_socket_factory_refuses_an_address_no_check_approved(site_url: str) -> None:
    """Whatever path reaches the connector, an address the guard never approved is refused."""
    guard = GuardedResolver(allow_private=False)
    connector = aiohttp.TCPConnector(resolver=guard, socket_factory=guard.open_socket)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(site_url + "/")  # a literal: no resolver, no check on the way
        assert isinstance(caught.value.os_error, GuardRefusal)
        guard.approve(["127.0.0.1"])
        async with session.get(site_url + "/") as response:
            assert response.status == 200


def connect_to_site(site_url: str, name: str = "shop.example.com") -> str:
    return f"{name}:80:127.0.0.1:{urlsplit(site_url).port}"


async def test_connect_to_a_private_address_is_refused_by_the_guard(site_url: str) -> None:
    rule = parse_connect_to(connect_to_site(site_url))
    async with Fetcher(Limits(page_timeout=5), False, connect_to=[rule]) as fetcher:
        with pytest.raises(RefusedTarget, match=r"shop\.example\.com .*127\.0\.0\.1.*loopback"):
            await fetcher.fetch("http://shop.example.com/")


async def test_connect_to_sends_the_request_for_a_name_to_the_address(site_url: str) -> None:
    rule = parse_connect_to(connect_to_site(site_url))
    async with Fetcher(Limits(page_timeout=5), True, connect_to=[rule]) as fetcher:
        page = await fetcher.fetch("http://shop.example.com/about")
    assert (page.status, page.final_url, page.ip) == (
        200,
        "http://shop.example.com/about",
        "127.0.0.1",
    )
    assert fetcher.resolver.resolved == {"shop.example.com": ["127.0.0.1"]}


def test_the_process_refuses_a_connect_to_a_private_address_unless_allowed(site_url: str) -> None:
    args = [
        "http://shop.example.com/",
        "--tier",
        "quick_scan",
        "--connect-to",
        connect_to_site(site_url),
    ]
    refused = run_worker(args, {"VERITAS_ALLOW_PRIVATE_TARGETS": "0"}, "stdout")
    assert refused.returncode == exits.NO_RESULT, refused.stderr
    (error,) = refused.of_type("phase_error")
    assert "only public addresses" in error["error"] and "127.0.0.1" in error["error"]
    allowed = run_worker(args, {"VERITAS_ALLOW_PRIVATE_TARGETS": "1"}, "stdout")
    assert allowed.returncode == exits.OK, allowed.stderr
    assert allowed.result["url"] == "http://shop.example.com/"


def opened_fetcher(site_url: str) -> Fetcher:
    """A fetcher whose guard lets through the test site's endpoint, and nothing else."""
    endpoint = parse_endpoints(f"127.0.0.1:{urlsplit(site_url).port}")
    return Fetcher(Limits(page_timeout=5), False, allow_targets=endpoint)


async def test_an_allowed_endpoint_is_fetched_and_its_redirects_stay_within_it(
    site_url: str,
) -> None:
    async with opened_fetcher(site_url) as fetcher:
        page = await fetcher.fetch(f"{site_url}/chain/2")
    assert page.status == 200 and page.ip == "127.0.0.1"


@pytest.mark.parametrize("hop", ["http://127.0.0.1:{other}/", "http://localhost:{port}/"])
async def test_an_allowed_endpoint_opens_neither_another_port_nor_a_name_for_it(
    site_url: str, hop: str
) -> None:
    port = urlsplit(site_url).port
    with serve_raw(b"") as other:
        target = hop.format(port=port, other=other)
        url = f"{site_url}/redirect?to=" + quote(target, safe="")
        async with opened_fetcher(site_url) as fetcher:
            with pytest.raises(RefusedTarget, match="only public addresses"):
                await fetcher.fetch(url)


def test_the_process_audits_an_allowed_endpoint_and_nothing_else_there(site_url: str) -> None:
    port = urlsplit(site_url).port
    env = {"VERITAS_ALLOW_PRIVATE_TARGETS": "0", "VERITAS_ALLOW_TARGETS": f"127.0.0.1:{port}"}
    run = run_worker([f"http://127.0.0.1:{port}/", "--tier", "quick_scan"], env, "stdout")
    assert run.returncode == exits.OK, run.stderr
    refused = run_worker([f"http://127.0.0.1:{port + 1}/", "--tier", "quick_scan"], env)
    assert refused.returncode == exits.NO_RESULT, refused.stderr
