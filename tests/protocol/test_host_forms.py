"""Every Unicode spelling of an address is that address, for us and for the HTTP client alike.

yarl (the URL type aiohttp connects with) is the reference: whenever it reads a host as an
IP address, `protocol.targets` must read the same address, so no spelling slips past the
guard as a name.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from protocol.errors import TargetError, TargetRefused
from protocol.targets import check_host, check_url, parse_host

FULL_STOPS = [".", "\u3002", "\uff0e", "\uff61"]


def digit_forms(digit: str) -> list[str]:
    d = int(digit)
    return [digit, chr(0xFF10 + d), chr(0x1D7CE + d), chr(0x1D7E2 + d), chr(0x1D7F6 + d)]


@st.composite
def spelled(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """`address` in dotted decimal, each digit and each dot in a random Unicode form."""
    out = []
    for char in str(address):
        forms = FULL_STOPS if char == "." else digit_forms(char)
        out.append(draw(st.sampled_from(forms)))
    return "".join(out)


def client_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address aiohttp would connect to for this host, or None when it reads a name."""
    raw = URL(f"http://{host}/").raw_host or ""
    try:
        return ipaddress.ip_address(raw.rstrip("."))
    except ValueError:
        return None


@given(st.ip_addresses(v=4).flatmap(lambda a: st.tuples(st.just(a), spelled(a))))
def test_every_spelling_of_an_ipv4_address_reads_as_that_address(
    case: tuple[ipaddress.IPv4Address, str],
) -> None:
    address, host = case
    assert parse_host(host)[1] == address
    assert client_address(host) == address


@given(st.sampled_from(["127.0.0.1", "169.254.169.254", "10.0.0.1", "192.0.0.8"]).flatmap(
    lambda a: spelled(ipaddress.IPv4Address(a))
))  # fmt: skip
def test_every_spelling_of_a_private_address_is_refused_before_any_lookup(host: str) -> None:
    with pytest.raises(TargetRefused, match="only public addresses"):
        check_host(check_url(f"http://{host}:8080/secret"))


HOST_ALPHABET = st.sampled_from(
    [*"0123456789abcx.-", *FULL_STOPS[1:], *digit_forms("1"), *digit_forms("7"), "\u2488", "ⓐ"]
)


@given(st.text(HOST_ALPHABET, min_size=1, max_size=20))
def test_when_the_client_reads_an_address_we_read_the_same_one(host: str) -> None:
    try:
        client = client_address(host)
    except ValueError:  # the client refuses the URL outright: nothing is fetched
        return
    if client is None:
        return
    try:
        target = check_url(f"http://{host}/")
    except TargetError:  # we refuse the URL outright: nothing is fetched
        return
    assert target.address == client


@pytest.mark.parametrize(
    "host",
    [
        "127\u30020\u30020\u30021",
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
        "127.0.0\u30021",
        "127\uff0e0\uff0e0\uff0e1",
        "127\uff610\uff610\uff611",
        "169\u3002254\u3002169\u3002254",
        "\u2460\u2461\u2466.0.0.1",
    ],
)
def test_the_forms_of_the_attack_run_are_refused(host: str) -> None:
    with pytest.raises(TargetRefused):
        check_host(check_url(f"http://{host}:1234/secret"))
