"""The address table: one address of every IANA special-purpose row, judged as the row says."""

from __future__ import annotations

import ipaddress

import pytest

from protocol.addresses import IPV4_REGISTRY, IPV6_REGISTRY, special_purpose, why_not_public
from protocol.targets import is_public_address

# (address, may be fetched): every registry row has at least one address here.
ROWS = [
    ("0.1.2.3", False),
    ("0.0.0.0", False),
    ("10.20.30.40", False),
    ("100.64.0.1", False),
    ("127.0.0.1", False),
    ("169.254.169.254", False),
    ("172.31.255.255", False),
    ("192.0.0.100", False),
    ("192.0.0.1", False),
    ("192.0.0.8", False),
    ("192.0.0.9", True),
    ("192.0.0.10", True),
    ("192.0.0.170", False),
    ("192.0.0.171", False),
    ("192.0.2.1", False),
    ("192.31.196.1", True),
    ("192.52.193.1", True),
    ("192.88.99.1", False),
    ("192.88.99.2", False),
    ("192.168.1.1", False),
    ("192.175.48.1", True),
    ("198.19.0.1", False),
    ("198.51.100.1", False),
    ("203.0.113.1", False),
    ("240.0.0.1", False),
    ("255.255.255.255", False),
    ("::1", False),
    ("::", False),
    ("::ffff:8.8.8.8", False),
    ("64:ff9b::808:808", True),
    ("64:ff9b:1::1", False),
    ("100::1", False),
    ("100:0:0:1::1", False),
    ("2001:100::1", False),
    ("2001::1", False),
    ("2001:1::1", True),
    ("2001:1::2", True),
    ("2001:1::3", True),
    ("2001:2::1", False),
    ("2001:3::1", True),
    ("2001:4:112::1", True),
    ("2001:10::1", False),
    ("2001:20::1", True),
    ("2001:30::1", True),
    ("2001:db8::1", False),
    ("2002:808:808::1", False),
    ("2620:4f:8000::1", True),
    ("3fff::1", False),
    ("5f00::1", False),
    ("fd00::1", False),
    ("fe80::1", False),
]


@pytest.mark.parametrize(("address", "public"), ROWS)
def test_each_registry_row_decides_its_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public
    assert (why_not_public(ipaddress.ip_address(address)) is None) is public


def test_every_registry_row_has_an_address_in_the_list() -> None:
    rows_hit = {special_purpose(ipaddress.ip_address(a)) for a, _ in ROWS}
    missing = [str(r.network) for r in (*IPV4_REGISTRY, *IPV6_REGISTRY) if r not in rows_hit]
    assert missing == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("192.0.0.8", "an IPv4 dummy address (192.0.0.8/32)"),
        ("192.0.0.100", "an IETF protocol assignments address (192.0.0.0/24)"),
        ("3fff::1", "a documentation address (3fff::/20)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("fec0::1", "outside the global unicast space"),
        ("4000::1", "outside the global unicast space"),
        ("64:ff9b::7f00:1", "translates to 127.0.0.1, and it is a loopback address (127.0.0.0/8)"),
    ],
)
def test_refusals_name_the_row_that_decided(address: str, reason: str) -> None:
    why = why_not_public(ipaddress.ip_address(address))
    assert why is not None and reason in why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450::1"])
def test_ordinary_unicast_space_is_public(address: str) -> None:
    assert special_purpose(ipaddress.ip_address(address)) is None
    assert is_public_address(address)
