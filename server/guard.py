"""The target guard: an audit's host must resolve only to public addresses (403 otherwise).

The worker checks every hop again (redirects, DNS changes); this check refuses early what
would certainly be refused, so no worker is spent on it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from server.errors import ApiError


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def forbidden(host: str, why: str) -> ApiError:
    return ApiError(403, "forbidden_target", f"{host} {why}", "url")


async def check_target(host: str, resolve_seconds: float) -> None:
    """Resolve `host` and refuse it unless every address it has is public."""
    try:
        async with asyncio.timeout(resolve_seconds):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
    except TimeoutError as exc:
        raise ApiError(400, "unresolvable_host", f"{host} did not resolve in time", "url") from exc
    except (OSError, UnicodeError) as exc:
        raise ApiError(400, "unresolvable_host", f"{host} does not resolve: {exc}", "url") from exc
    addresses = {str(info[4][0]) for info in infos}
    private = sorted(a for a in addresses if not is_public_address(a))
    if private or not addresses:
        raise forbidden(host, f"resolves to a non-public address ({', '.join(private)})")
