"""Which IP addresses are globally reachable: the IANA special-purpose registries, as a table.

    special_purpose(address)   # the most specific registry row holding it, or None
    why_not_public(address)    # None for a public address, else the reason in words

Rows are transcribed from the IANA IPv4 Special-Purpose Address Registry and the IANA IPv6
Special-Purpose Address Registry (RFC 6890 and its updates), in the editions last updated
in 2025 (IPv4: through RFC 6751's 192.0.0.0/24 and 192.88.99.2/32 rows; IPv6: through
RFC 9602 5f00::/16, RFC 9637 3fff::/20, RFC 9665 2001:1::3/128 and RFC 9780
100:0:0:1::/64). Python's `ipaddress` flags are not used: their tables lag the registries
(192.0.0.8 and 3fff::/20 passed as global).

The rule: the most specific row that holds an address decides, and only a row whose
"Globally Reachable" column reads True lets it through ("N/A" and False refuse). Outside
the registries, two ranges of the address-space registries are refused as well: IPv4
multicast 224.0.0.0/4, and every IPv6 address outside global unicast 2000::/3 (multicast
ff00::/8, site-local fec0::/10, the reserved rest). Addresses that carry an IPv4 address
(NAT64 64:ff9b::/96, whose row is True) are public only when that IPv4 address is.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Row:
    """One registry row: the block, its name, and whether it is globally reachable."""

    network: IPNetwork
    name: str
    reachable: bool  # the registry's "Globally Reachable" column; N/A reads as False


def _row(block: str, name: str, reachable: bool) -> Row:
    return Row(ipaddress.ip_network(block), name, reachable)


IPV4_REGISTRY: Final = (
    _row("0.0.0.0/8", '"this network"', False),
    _row("0.0.0.0/32", '"this host on this network"', False),
    _row("10.0.0.0/8", "private-use", False),
    _row("100.64.0.0/10", "shared (CGNAT)", False),
    _row("127.0.0.0/8", "loopback", False),
    _row("169.254.0.0/16", "link-local", False),
    _row("172.16.0.0/12", "private-use", False),
    _row("192.0.0.0/24", "IETF protocol assignments", False),
    _row("192.0.0.0/29", "IPv4 service continuity prefix", False),
    _row("192.0.0.8/32", "IPv4 dummy", False),
    _row("192.0.0.9/32", "port control protocol anycast", True),
    _row("192.0.0.10/32", "TURN anycast", True),
    _row("192.0.0.170/32", "NAT64/DNS64 discovery", False),
    _row("192.0.0.171/32", "NAT64/DNS64 discovery", False),
    _row("192.0.2.0/24", "documentation (TEST-NET-1)", False),
    _row("192.31.196.0/24", "AS112-v4", True),
    _row("192.52.193.0/24", "AMT", True),
    _row("192.88.99.0/24", "deprecated 6to4 relay anycast", False),  # N/A
    _row("192.88.99.2/32", "6a44-relay anycast", False),
    _row("192.168.0.0/16", "private-use", False),
    _row("192.175.48.0/24", "direct delegation AS112 service", True),
    _row("198.18.0.0/15", "benchmarking", False),
    _row("198.51.100.0/24", "documentation (TEST-NET-2)", False),
    _row("203.0.113.0/24", "documentation (TEST-NET-3)", False),
    _row("240.0.0.0/4", "reserved", False),
    _row("255.255.255.255/32", "limited broadcast", False),
)

IPV6_REGISTRY: Final = (
    _row("::1/128", "loopback", False),
    _row("::/128", "unspecified", False),
    _row("::ffff:0:0/96", "IPv4-mapped", False),
    _row("64:ff9b::/96", "IPv4-IPv6 translation (NAT64)", True),
    _row("64:ff9b:1::/48", "local-use IPv4-IPv6 translation", False),
    _row("100::/64", "discard-only", False),
    _row("100:0:0:1::/64", "dummy IPv6 prefix", False),
    _row("2001::/23", "IETF protocol assignments", False),
    _row("2001::/32", "TEREDO", False),  # N/A
    _row("2001:1::1/128", "port control protocol anycast", True),
    _row("2001:1::2/128", "TURN anycast", True),
    _row("2001:1::3/128", "DNS-SD service registration protocol anycast", True),
    _row("2001:2::/48", "benchmarking", False),
    _row("2001:3::/32", "AMT", True),
    _row("2001:4:112::/48", "AS112-v6", True),
    _row("2001:10::/28", "deprecated ORCHID", False),  # N/A
    _row("2001:20::/28", "ORCHIDv2", True),
    _row("2001:30::/28", "drone remote ID entity tags", True),
    _row("2001:db8::/32", "documentation", False),
    _row("2002::/16", "6to4", False),  # N/A
    _row("2620:4f:8000::/48", "direct delegation AS112 service", True),
    _row("3fff::/20", "documentation", False),
    _row("5f00::/16", "segment routing (SRv6) SIDs", False),
    _row("fc00::/7", "unique-local", False),
    _row("fe80::/10", "link-local", False),
)

# From the address-space registries, not the special-purpose ones: never a unicast target.
IPV4_MULTICAST: Final = ipaddress.IPv4Network("224.0.0.0/4")
IPV6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
IPV6_MULTICAST: Final = ipaddress.IPv6Network("ff00::/8")
NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


def _most_specific_first(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    return tuple(sorted(rows, key=lambda row: -row.network.prefixlen))


_V4: Final = _most_specific_first(IPV4_REGISTRY)
_V6: Final = _most_specific_first(IPV6_REGISTRY)


def special_purpose(address: IPAddress) -> Row | None:
    """The most specific registry row holding `address`, or None for ordinary space."""
    rows = _V4 if isinstance(address, ipaddress.IPv4Address) else _V6
    return next((row for row in rows if address in row.network), None)


def why_not_public(address: IPAddress) -> str | None:
    """None when `address` may be fetched; otherwise why not, in words a user understands."""
    row = special_purpose(address)
    if row is not None and not row.reachable:
        article = "an" if row.name[0].lower() in "aeiou" else "a"
        return f"it is {article} {row.name} address ({row.network}), not globally reachable"
    if isinstance(address, ipaddress.IPv4Address):
        if address in IPV4_MULTICAST:
            return f"it is a multicast address ({IPV4_MULTICAST})"
        return None
    if address in NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        reason = why_not_public(embedded)
        return None if reason is None else f"it translates to {embedded}, and {reason}"
    if address in IPV6_MULTICAST:
        return f"it is a multicast address ({IPV6_MULTICAST})"
    if address not in IPV6_GLOBAL_UNICAST:
        return f"it is outside the global unicast space ({IPV6_GLOBAL_UNICAST})"
    return None
