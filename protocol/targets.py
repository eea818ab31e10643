"""Audit targets: which URLs may be fetched, by the rules the server and the auditor share.

    target = check_url(url)                 # syntax: http(s), a host, length limits
    check_host(target)                      # no DNS: refuse localhost names and private literals
    check_addresses(target.host, resolved)  # after DNS: refuse if any address is not public

A target must be a globally reachable address, as `protocol.addresses` tabulates the IANA
special-purpose registries. A host is read once, before anything decides whether it is a
name or an address, the way the HTTP client will read it: Unicode compatibility forms are
mapped first (UTS #46: fullwidth digits, the full stops U+3002, U+FF0E and U+FF61), so
fullwidth "127", "0", "0", "1" joined by U+3002 is the address 127.0.0.1; then IPv4 is
read the way browsers read it (WHATWG URL), so `2130706433`, `0x7f.1` and `0177.0.0.1`
are 127.0.0.1 too, not names.

Sans-I/O and stdlib only: resolving the name is the caller's job, and the caller must
connect to the addresses it checked, never look the name up a second time.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from protocol.addresses import IPAddress, why_not_public
from protocol.errors import TargetError, TargetRefused

MAX_URL_LENGTH: Final = 2048
MAX_HOST_LENGTH: Final = 253
SCHEMES: Final = {"http": 80, "https": 443}
LOCAL_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "localdomain"}
)

# UTS #46 maps these to "." before splitting labels; NFKC alone leaves U+3002 as it is.
_FULL_STOPS: Final = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
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
    name = map_host(unquote(raw))
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    v4 = parse_ipv4(name)
    if v4 is not None:
        return str(v4), v4
    return _ascii_name(name), None


def map_host(raw: str) -> str:
    """The UTS #46 mapping of a host, as far as it decides name or address: case folded,
    compatibility forms (fullwidth, circled, mathematical digits) to ASCII, full stops to ".".

    ASCII hosts are only lower-cased, as every HTTP client does.
    """
    if raw.isascii():
        return raw.lower()
    folded = unicodedata.normalize("NFKC", raw.translate(_FULL_STOPS)).casefold()
    return unicodedata.normalize("NFKC", folded).translate(_FULL_STOPS)


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
    if "" in ascii_name.split("."):
        raise TargetError(f"the host {name!r} has an empty label")
    return ascii_name


def is_local_name(host: str) -> bool:
    """`localhost` and the names that mean it (RFC 6761: every name under .localhost)."""
    name = host.lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")


def is_public_address(addr: str | IPAddress) -> bool:
    """True for a globally reachable unicast address; False for any text that is not an IP."""
    address = _as_address(addr)
    return address is not None and why_not_public(address) is None


def _as_address(addr: str | IPAddress) -> IPAddress | None:
    if not isinstance(addr, str):
        return addr
    try:
        return ipaddress.ip_address(addr.partition("%")[0])
    except ValueError:
        return None


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
    address = _as_address(text)
    if address is None:
        return "it is not an IP address"
    return why_not_public(address) or "it is not a globally reachable address"


@dataclass(frozen=True, slots=True)
class ConnectTo:
    """curl's `--connect-to HOST:PORT:ADDR:PORT`: requests for HOST:PORT go to ADDR:PORT.

    The URL, the Host header and the TLS name stay HOST; only the connection goes elsewhere.
    An empty HOST or PORT matches any; an empty second PORT keeps the request's port. The
    guard judges ADDR (the address connected to), never HOST.
    """

    host: str  # canonical name, or "" for any host
    port: int | None  # None for any port
    address: str  # canonical name or IP text to connect to instead
    to_port: int | None  # None to keep the request's port

    def matches(self, host: str, port: int) -> bool:
        name = host.lower().rstrip(".")
        return self.host in ("", name) and self.port in (None, port)

    def __str__(self) -> str:
        def show(host: str) -> str:
            return f"[{host}]" if ":" in host else host

        def number(port: int | None) -> str:
            return "" if port is None else str(port)

        return f"{show(self.host)}:{number(self.port)}:{show(self.address)}:{number(self.to_port)}"


MAX_CONNECT_TO_LENGTH: Final = 600
_CONNECT_TO_FIELD: Final = re.compile(r"\[[^\]]*\]|[^:\[\]]*")


def parse_connect_to(text: str) -> ConnectTo:
    """Parse `HOST:PORT:ADDR:PORT` (IPv6 in brackets); raise `TargetError` saying what is wrong."""
    if not isinstance(text, str):
        raise TargetError(f"connect-to must be text, not {type(text).__name__}")
    if len(text) > MAX_CONNECT_TO_LENGTH:
        raise TargetError(f"connect-to is longer than {MAX_CONNECT_TO_LENGTH} characters")
    fields = _connect_to_fields(text)
    host, port, address, to_port = fields
    if not address:
        raise TargetError(f"connect-to {text!r} names no address to connect to")
    name, literal = parse_host(host.strip("[]")) if host else ("", None)
    if literal is not None:
        raise TargetError(
            f"connect-to {text!r}: HOST must be a name; an address is connected to directly"
        )
    target, _ = parse_host(address.strip("[]"))
    return ConnectTo(name, _port(port, text), target, _port(to_port, text))


def _connect_to_fields(text: str) -> list[str]:
    fields: list[str] = []
    position = 0
    while True:
        match = _CONNECT_TO_FIELD.match(text, position)
        assert match is not None  # the pattern matches the empty string
        fields.append(match.group())
        position = match.end()
        if position == len(text):
            break
        if text[position] != ":":
            raise TargetError(f"connect-to {text!r} is not HOST:PORT:ADDR:PORT")
        position += 1
    if len(fields) != 4 or any(c.isspace() for c in text):
        raise TargetError(f"connect-to {text!r} is not HOST:PORT:ADDR:PORT")
    return fields


def _port(text: str, whole: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise TargetError(f"connect-to {whole!r}: {text!r} is not a port number (1-65535)")
    return int(text)


MAX_ALLOWED_ENDPOINTS: Final = 64
Endpoint = tuple[str, int]  # (canonical IP text, port)


def parse_endpoints(text: str) -> frozenset[Endpoint]:
    """`ADDR:PORT,[V6ADDR]:PORT,...`: the only endpoints a private address may be audited at.

    Addresses only (no names, so no lookup can widen it) and one port each: opening the guard
    for a few local sites (a demo, a test) opens it for nothing else on their machine.
    """
    endpoints: set[Endpoint] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        literal = _as_address(host.strip("[]")) if sep else None
        if literal is None or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise TargetError(f"{item[:80]!r} is not an IP address with a port (ADDR:PORT)")
        endpoints.add((str(literal), int(port)))
    if len(endpoints) > MAX_ALLOWED_ENDPOINTS:
        raise TargetError(f"at most {MAX_ALLOWED_ENDPOINTS} allowed endpoints")
    return frozenset(endpoints)


def is_allowed_endpoint(target: ParsedTarget, endpoints: frozenset[Endpoint]) -> bool:
    """Is this target's literal address and port one of the endpoints the guard lets through?"""
    return target.address is not None and (str(target.address), target.port) in endpoints
