"""The target guard: an audit's host must resolve only to public addresses (403 otherwise).

The rules are `protocol.targets`, shared with the worker, which checks every hop again
(redirects, DNS that changes); this check refuses early what would certainly be refused,
so no worker is spent on it.
"""

from __future__ import annotations

import asyncio
import socket

from protocol.errors import TargetRefused
from protocol.targets import ParsedTarget, check_addresses, check_host
from server.errors import ApiError


async def check_target(target: ParsedTarget, resolve_seconds: float) -> None:
    """Refuse `target` unless its host is a public address or resolves only to public ones."""
    try:
        check_host(target)
        if target.address is None:
            check_addresses(target.host, await resolve(target.host, resolve_seconds))
    except TargetRefused as exc:
        raise ApiError(403, "forbidden_target", str(exc), "url") from exc


async def resolve(host: str, resolve_seconds: float) -> list[str]:
    try:
        async with asyncio.timeout(resolve_seconds):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
    except TimeoutError as exc:
        raise unresolvable(host, "did not resolve in time") from exc
    except (OSError, UnicodeError) as exc:
        raise unresolvable(host, f"does not resolve ({exc})") from exc
    return sorted({str(info[4][0]) for info in infos})


def unresolvable(host: str, why: str) -> ApiError:
    return ApiError(400, "unresolvable_host", f"{host} {why}", "url")
