"""The private-address guard at connect time: resolve once, check every address, connect to it.

aiohttp asks its resolver for the addresses of every host it connects to, redirect hops
included, and connects to exactly what the resolver returns: checking here means the
address connected to is the address checked, with no second lookup that DNS rebinding
could change. IP literals never reach a resolver; `veritas.fetch` checks them itself.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult

from protocol.targets import check_addresses

# (family, type, proto, canonname, sockaddr), as getaddrinfo returns them
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[object, ...]]
Lookup = Callable[[str, int, socket.AddressFamily], Awaitable[Sequence[AddrInfo]]]
Check = Callable[[str, Sequence[str]], None]


async def system_lookup(host: str, port: int, family: socket.AddressFamily) -> list[AddrInfo]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
    return [(f, t, p, c, tuple(a)) for f, t, p, c, a in infos]


class GuardedResolver(AbstractResolver):
    """Resolves with `lookup`, then refuses the host unless `check` accepts every address."""

    def __init__(
        self, allow_private: bool, lookup: Lookup = system_lookup, check: Check = check_addresses
    ) -> None:
        self.allow_private = allow_private
        self.resolved: dict[str, list[str]] = {}  # host -> checked addresses, for intel
        self._lookup = lookup
        self._check = check

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        name = host.rstrip(".")
        try:
            infos = await self._lookup(name, port, family)
        except socket.gaierror as exc:
            raise OSError(exc.errno, f"cannot resolve {name}: {exc.strerror}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            self._check(name, addresses)
        self.resolved[name] = addresses
        return [_result(host, info, port) for info in infos]

    async def close(self) -> None:
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
