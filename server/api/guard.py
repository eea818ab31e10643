"""The target guard: an audit's host must resolve only to public addresses (403 otherwise).

The rules are `protocol.targets`, shared with the worker, which checks every hop again
(redirects, DNS that changes); this check refuses early what would certainly be refused,
so no worker is spent on it. A `connect_to` rule that matches the target sends the
connection elsewhere: then its address is what is judged, as the worker judges it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

from protocol.errors import TargetRefused
from protocol.targets import ConnectTo, ParsedTarget, check_addresses, check_host, parse_host
from server.errors import ApiError


async def check_target(
    target: ParsedTarget, resolve_seconds: float, connect_to: Sequence[ConnectTo] = ()
) -> None:
    """Refuse `target` unless what it connects to is a public address or resolves only to
    public ones: its host, or the address of the `connect_to` rule that matches it."""
    rule = next((r for r in connect_to if r.matches(target.host, target.port)), None)
    field = "url" if rule is None else "connect_to"
    try:
        check_host(target)
        if rule is not None:
            await _check_name(rule.address, resolve_seconds, field)
        elif target.address is None:
            check_addresses(target.host, await resolve(target.host, resolve_seconds, field))
    except TargetRefused as exc:
        raise ApiError(403, "forbidden_target", str(exc), field) from exc


async def _check_name(host: str, resolve_seconds: float, field: str) -> None:
    literal = parse_host(host)[1]
    if literal is not None:
        check_addresses(host, [str(literal)])
    else:
        check_addresses(host, await resolve(host, resolve_seconds, field))


async def resolve(host: str, resolve_seconds: float, field: str = "url") -> list[str]:
    try:
        async with asyncio.timeout(resolve_seconds):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
    except TimeoutError as exc:
        raise unresolvable(host, "did not resolve in time", field) from exc
    except (OSError, UnicodeError) as exc:
        raise unresolvable(host, f"does not resolve ({exc})", field) from exc
    return sorted({str(info[4][0]) for info in infos})


def unresolvable(host: str, why: str, field: str = "url") -> ApiError:
    return ApiError(400, "unresolvable_host", f"{host} {why}", field)
