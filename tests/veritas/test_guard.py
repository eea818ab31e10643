"""The private-address guard in the fetcher and in the process: refused at start, at every hop."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

import pytest

from protocol import exits
from protocol.targets import check_addresses
from tests.veritas.worker import run_worker
from veritas.config import Limits
from veritas.errors import RefusedTarget
from veritas.fetch import Fetcher
from veritas.resolver import AddrInfo, GuardedResolver

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
    ],
)
async def test_a_redirect_to_a_private_literal_is_refused_at_that_hop(
    site_url: str, hop: str
) -> None:
    target = hop.format(port=urlsplit(site_url).port)
    url = on(ALLOWED, site_url, "/redirect?to=" + quote(target, safe=""))
    async with guarded_fetcher() as fetcher:
        with pytest.raises(RefusedTarget, match="only public addresses") as caught:
            await fetcher.fetch(url)
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
