"""The private-address guard at connect time: resolve once, check every address, connect to it.

aiohttp asks its resolver for the addresses of every host name it connects to, redirect
hops included, and connects to exactly what the resolver returns: checking here means the
address connected to is the address checked, with no second lookup that DNS rebinding
could change. `--connect-to` rules are applied here too, so the guard judges the address
a rule sends the connection to, never the name in the URL.

IP literals never reach a resolver; `veritas.fetch` checks and approves them itself. Below
both, `open_socket` is the only way the HTTP client gets a socket: it refuses any address
that was not approved, whatever path led to it (defence in depth).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult

from protocol.errors import TargetRefused
from protocol.targets import ConnectTo, check_addresses

# (family, type, proto, canonname, sockaddr), as getaddrinfo returns them
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[object, ...]]
Lookup = Callable[[str, int, socket.AddressFamily], Awaitable[Sequence[AddrInfo]]]
Check = Callable[[str, Sequence[str]], None]


class GuardRefusal(OSError):
    """A connection to an address the guard never approved; raised where sockets are made."""

    def __init__(self, address: str) -> None:
        super().__init__(
            errno.EACCES, f"the guard did not approve a connection to {address}; refused"
        )
        self.address = address


async def system_lookup(host: str, port: int, family: socket.AddressFamily) -> list[AddrInfo]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
    return [(f, t, p, c, tuple(a)) for f, t, p, c, a in infos]


class GuardedResolver(AbstractResolver):
    """Resolves with `lookup`, then refuses the host unless `check` accepts every address."""

    def __init__(
        self,
        allow_private: bool,
        lookup: Lookup = system_lookup,
        check: Check = check_addresses,
        connect_to: Sequence[ConnectTo] = (),
    ) -> None:
        self.allow_private = allow_private
        self.resolved: dict[str, list[str]] = {}  # host -> checked addresses, for intel
        self.connect_to = tuple(connect_to)
        self._approved: set[str] = set()  # canonical text of every address let through
        self._lookup = lookup
        self._check = check

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        name = host.rstrip(".")
        rule = next((r for r in self.connect_to if r.matches(name, port)), None)
        target = rule.address if rule is not None else name
        target_port = rule.to_port or port if rule is not None else port
        infos = await self._addresses(target, target_port, family)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            self._judge(name, rule, addresses)
        self.approve(addresses)
        self.resolved[name] = addresses
        return [_result(host, info, target_port) for info in infos]

    def _judge(self, name: str, rule: ConnectTo | None, addresses: Sequence[str]) -> None:
        if rule is None:
            self._check(name, addresses)
            return
        try:
            self._check(rule.address, addresses)
        except TargetRefused as exc:
            raise TargetRefused(f"{name} (--connect-to {rule})", exc.address, exc.reason) from exc

    async def _addresses(
        self, host: str, port: int, family: socket.AddressFamily
    ) -> Sequence[AddrInfo]:
        literal = _canonical(host)
        if literal is not None:  # a connect-to rule's address: no lookup
            v6 = ":" in literal
            kind = socket.AF_INET6 if v6 else socket.AF_INET
            sockaddr: tuple[object, ...] = (literal, port, 0, 0) if v6 else (literal, port)
            return [(kind, socket.SOCK_STREAM, 6, "", sockaddr)]
        try:
            return await self._lookup(host, port, family)
        except socket.gaierror as exc:
            raise OSError(exc.errno, f"cannot resolve {host}: {exc.strerror}") from exc

    def approve(self, addresses: Iterable[str]) -> None:
        """Let connections to these (checked) addresses through `open_socket`."""
        self._approved.update(a for a in map(_canonical, addresses) if a is not None)

    def permits(self, address: str) -> bool:
        canonical = _canonical(address)
        return canonical is not None and canonical in self._approved

    def open_socket(self, info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
        """aiohttp's socket factory: a socket only toward an address the guard approved."""
        family, kind, proto, _, sockaddr = info
        address = str(sockaddr[0])
        if not self.permits(address):
            raise GuardRefusal(address)
        return socket.socket(family, kind, proto)

    async def close(self) -> None:
        return None


def _canonical(text: str) -> str | None:
    """The one text form of an IP address (zone dropped), or None for anything else."""
    try:
        return str(ipaddress.ip_address(text.partition("%")[0]))
    except ValueError:
        return None


def _result(host: str, info: AddrInfo, port: int) -> ResolveResult:
    family, address = info[0], info[4]
    return ResolveResult(
        hostname=host,
        host=str(address[0]),
        port=address[1] if isinstance(address[1], int) else port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST,
    )
