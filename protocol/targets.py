"""Audit targets: which URLs may be fetched, by the rules the server and the auditor share.

    target = check_url(url)                 # syntax: http(s), a host, length limits
    check_host(target)                      # no DNS: refuse localhost names and private literals
    check_addresses(target.host, resolved)  # after DNS: refuse if any address is not public

A target must be a public address. Refused: loopback, private, link-local, shared (CGNAT),
multicast, reserved, unspecified and documentation ranges, for IPv4 and IPv6, with IPv4
addresses embedded in IPv6 (mapped, NAT64, 6to4) judged by their IPv4 part. Hosts are
read the way browsers read them (WHATWG URL), so `2130706433`, `0x7f.1` and `0177.0.0.1`
are the literal address 127.0.0.1, not names to look up.

Sans-I/O and stdlib only: resolving the name is the caller's job, and the caller must
connect to the addresses it checked, never look the name up a second time.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from protocol.errors import TargetError, TargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH: Final = 2048
MAX_HOST_LENGTH: Final = 253
SCHEMES: Final = {"http": 80, "https": 443}
LOCAL_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "localdomain"}
)

_NAT64: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
_HEX: Final = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL: Final = re.compile(r"0[0-7]+")
_DECIMAL: Final = re.compile(r"[0-9]+")
_FORBIDDEN_HOST_CHARS: Final = frozenset(" \t\r\n#/?@[]\\<>^|%")


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """A syntactically valid target URL and its host, read the way a browser reads it."""

    url: str  # stripped of surrounding whitespace, otherwise as given
    scheme: str  # "http" or "https"
    host: str  # lower-case ASCII (IDNA) name without trailing dot, or the canonical IP text
    port: int  # explicit, or the scheme's default
    address: IPAddress | None  # the literal address when the host is one, in any notation

    @property
    def is_ip(self) -> bool:
        return self.address is not None


def check_url(url: str, max_length: int = MAX_URL_LENGTH) -> ParsedTarget:
    """Parse an absolute http(s) URL; raise `TargetError` saying what is wrong with it."""
    if not isinstance(url, str):
        raise TargetError(f"the URL must be text, not {type(url).__name__}")
    text = url.strip()
    if len(text) > max_length:
        raise TargetError(f"the URL is longer than {max_length} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise TargetError("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        raw_host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"the URL cannot be parsed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetError(f"only http and https URLs can be audited, not {parts.scheme or '?'!r}")
    if not raw_host:
        raise TargetError("the URL has no host")
    host, address = parse_host(raw_host)
    return ParsedTarget(text, scheme, host, SCHEMES[scheme] if port is None else port, address)


def parse_host(raw: str) -> tuple[str, IPAddress | None]:
    """(canonical host, literal address or None) of a URL's host, brackets already removed."""
    if ":" in raw:
        return _parse_ipv6(raw)
    name = unquote(raw).lower()
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    v4 = parse_ipv4(name)
    if v4 is not None:
        return str(v4), v4
    return _ascii_name(name), None


def _parse_ipv6(raw: str) -> tuple[str, IPAddress]:
    # A zone ("%25eth0" in a URL) only makes sense for link-local addresses: refused anyway.
    address_text = unquote(raw).split("%", 1)[0]
    try:
        address = ipaddress.IPv6Address(address_text)
    except ValueError as exc:
        raise TargetError(f"{raw!r} is not a valid IPv6 address") from exc
    return str(address), address


def parse_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: 1 to 4 parts, each decimal, 0x-hex or 0-octal.

    Returns None when the host is a name; raises `TargetError` when it ends in a number
    but is no valid address (a browser refuses such a URL too).
    """
    parts = name.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts or not _is_number(parts[-1]):
        return None
    if len(parts) > 4 or not all(_is_number(p) for p in parts):
        raise TargetError(f"{name!r} ends in a number but is not a valid IPv4 address")
    numbers = [_number(p) for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise TargetError(f"{name!r} is out of range for an IPv4 address")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _is_number(part: str) -> bool:
    return bool(_DECIMAL.fullmatch(part) or _HEX.fullmatch(part))


def _number(part: str) -> int:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if not _OCTAL.fullmatch(part):
            raise TargetError(f"{part!r} is not a valid octal number in an IPv4 address")
        return int(part[1:], 8)
    return int(part)


def _ascii_name(name: str) -> str:
    if any(c in _FORBIDDEN_HOST_CHARS for c in name):
        raise TargetError(f"the host {name!r} contains characters a host name cannot have")
    try:
        ascii_name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise TargetError(f"the host {name!r} is not a valid international domain name") from exc
    if not ascii_name or len(ascii_name) > MAX_HOST_LENGTH:
        raise TargetError(f"the host name must be 1 to {MAX_HOST_LENGTH} characters long")
    return ascii_name


def is_local_name(host: str) -> bool:
    """`localhost` and the names that mean it (RFC 6761: every name under .localhost)."""
    name = host.lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")


def is_public_address(addr: str | IPAddress) -> bool:
    """True for a globally routable unicast address; False for any text that is not an IP."""
    try:
        address = ipaddress.ip_address(addr.partition("%")[0]) if isinstance(addr, str) else addr
    except ValueError:
        return False
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public_address(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def check_host(target: ParsedTarget) -> None:
    """Refuse what is known before any DNS lookup: local names and non-public literals."""
    if is_local_name(target.host):
        raise TargetRefused(target.host, target.host, "it names this machine (localhost)")
    if target.address is not None:
        check_addresses(target.host, [str(target.address)])


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """Refuse a host unless it has addresses and every one of them is public."""
    if is_local_name(host):
        raise TargetRefused(host, host, "it names this machine (localhost)")
    seen = list(addresses)
    if not seen:
        raise TargetRefused(host, "", "it has no address")
    for address in seen:
        if not is_public_address(address):
            raise TargetRefused(host, address, _why_not_public(address))


def _why_not_public(text: str) -> str:
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return "it is not an IP address"
    address = _embedded_ipv4(address) or address
    for name, kind in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(address, name):
            return f"it is a {kind} address"
    return "it is not a globally routable address"
