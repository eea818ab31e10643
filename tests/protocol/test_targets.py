"""The target rules: URL syntax, every notation of a private address, and the public ones."""

from __future__ import annotations

import ipaddress

import pytest

from protocol.errors import ProtocolError, TargetError, TargetRefused
from protocol.targets import (
    check_addresses,
    check_host,
    check_url,
    is_allowed_endpoint,
    is_local_name,
    is_public_address,
    parse_endpoints,
    parse_ipv4,
)

# Each URL's host is, in some notation, an address that must never be fetched.
REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7F.0.0.1/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://0177.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://127.0.0.1./",
    "http://0.0.0.0/",
    "http://0/",
    "http://0x0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://3232235777/",
    "http://169.254.169.254/",
    "http://0xa9fea9fe/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://[::7f00:1]/",
    "https://127.0.0.1:8443/login",
    "http://localhost/",
    "http://LOCALHOST/",
    "http://localhost./",
    "http://app.localhost/",
    "http://localhost.localdomain/",
    "http://ip6-localhost/",
    "http://user:secret@127.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_private_forms_are_refused_before_any_lookup(url: str) -> None:
    target = check_url(url)
    with pytest.raises(TargetRefused) as caught:
        check_host(target)
    assert "only public addresses" in str(caught.value)


def test_the_list_covers_at_least_thirty_forms() -> None:
    assert len(set(REFUSED_URLS)) >= 30


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0x", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
    ],
)
def test_legacy_ipv4_notations_read_as_a_browser_reads_them(host: str, address: str) -> None:
    assert parse_ipv4(host) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["example.com", "0x7f.example", "1.2.3.example", "a1"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ipv4(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "1.2.3.0x100", "08.0.0.1", "foo.09"])
def test_hosts_ending_in_a_bad_number_are_invalid(host: str) -> None:
    with pytest.raises(TargetError):
        parse_ipv4(host)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://[::1/",
        "http://[zz::1]/",
        "http://example.com/\x00",
        "https://" + "a" * 3000 + ".com/",
    ],
)
def test_malformed_urls_are_refused_with_a_target_error(url: str) -> None:
    with pytest.raises(TargetError) as caught:
        check_url(url)
    assert not isinstance(caught.value, TargetRefused)
    assert isinstance(caught.value, ProtocolError)


def test_a_parsed_target_carries_canonical_host_port_and_address() -> None:
    target = check_url("  HTTPS://Example.COM./a?b#c ")
    assert (target.url, target.scheme, target.host, target.port, target.address) == (
        "HTTPS://Example.COM./a?b#c",
        "https",
        "example.com",
        443,
        None,
    )
    literal = check_url("http://0x08080808:8080/")
    assert (literal.host, literal.port, literal.is_ip) == ("8.8.8.8", 8080, True)


def test_international_names_become_idna() -> None:
    assert check_url("http://bücher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url", ["http://example.com/", "https://8.8.8.8/", "http://[2606:4700::1111]/", "http://1.1/"]
)
def test_public_targets_pass_the_host_check(url: str) -> None:
    check_host(check_url(url))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "::ffff:192.168.0.1", "::ffff:8.8.8.8", "fe80::1%eth0", "not an ip", ""],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(TargetRefused) as caught:
        check_addresses("rebind.example", ["8.8.8.8", "10.0.0.7"])
    assert caught.value.address == "10.0.0.7"
    assert "private" in caught.value.reason


def test_a_host_without_addresses_is_refused() -> None:
    with pytest.raises(TargetRefused, match="no address"):
        check_addresses("nothing.example", [])


def test_local_names_are_refused_whatever_they_resolve_to() -> None:
    assert is_local_name("Foo.LocalHost.")
    with pytest.raises(TargetRefused, match="localhost"):
        check_addresses("localhost", ["8.8.8.8"])


def test_allowed_endpoints_are_addresses_with_ports_read_canonically() -> None:
    endpoints = parse_endpoints(" 127.0.0.1:8701, [::1]:80 ,,")
    assert endpoints == frozenset({("127.0.0.1", 8701), ("::1", 80)})
    assert is_allowed_endpoint(check_url("http://0x7f.1:8701/any"), endpoints)
    assert not is_allowed_endpoint(check_url("http://127.0.0.1:8702/"), endpoints)
    assert not is_allowed_endpoint(check_url("http://localhost:8701/"), endpoints)


@pytest.mark.parametrize(
    "text", ["localhost:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "1.2.3.4:\u00b2"]
)
def test_an_allowed_endpoint_must_be_an_address_and_a_port(text: str) -> None:
    with pytest.raises(TargetError, match="ADDR:PORT"):
        parse_endpoints(text)
