"""Cross-origin access for browser clients: the allowed origins and the preflight answer.

Two pieces, because a streaming response sends its headers from inside the handler:
`cors_middleware` answers preflights (`OPTIONS` with `Access-Control-Request-Method`)
before routing, and `cors_headers` adds `Access-Control-Allow-Origin` to every response
as it is prepared, SSE streams and error responses included. The preflight allows
`Last-Event-ID` (an EventSource resuming after a reconnect sends it), `Authorization`
and `Content-Type`; responses expose `Location` (POST /audits) and `Retry-After` (429).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

ALLOWED_METHODS: Final = ("GET", "POST", "DELETE")
ALLOWED_HEADERS: Final = ("Authorization", "Content-Type", "Last-Event-ID", "Accept")
EXPOSED_HEADERS: Final = ("Location", "Retry-After")
ANY: Final = "*"


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    origins: frozenset[str]  # exact `scheme://host[:port]` values, or {"*"}
    max_age: int = 600  # seconds a browser may cache a preflight answer

    @classmethod
    def parse(cls, text: str, max_age: int = 600) -> CorsPolicy:
        """From a comma-separated list (`VERITAS_CORS_ORIGINS`); ValueError names a bad entry."""
        origins = frozenset(_origin(item) for item in text.split(",") if item.strip())
        if ANY in origins and len(origins) > 1:
            raise ValueError("'*' cannot be combined with other origins")
        return cls(origins, max_age)

    def allowed(self, origin: str | None) -> str | None:
        """The value for Access-Control-Allow-Origin, or None when `origin` is not allowed."""
        if origin is None:
            return None
        if ANY in self.origins:
            return ANY
        return origin if origin in self.origins else None


def cors_middleware(policy: CorsPolicy) -> Middleware:
    @web.middleware
    async def answer_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return preflight(policy, request)
        return await handler(request)

    return answer_preflight


def cors_headers(
    policy: CorsPolicy,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An `on_response_prepare` hook adding the CORS headers of an allowed origin."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        allow = policy.allowed(request.headers.get("Origin"))
        _vary(response, ("Origin",))
        if allow is None or "Access-Control-Allow-Origin" in response.headers:
            return
        response.headers["Access-Control-Allow-Origin"] = allow
        response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)

    return add_headers


def install_cors(app: web.Application, policy: CorsPolicy) -> None:
    """Both pieces, on an application not yet started."""
    app.middlewares.append(cors_middleware(policy))
    app.on_response_prepare.append(cors_headers(policy))


def preflight(policy: CorsPolicy, request: web.Request) -> web.Response:
    allow = policy.allowed(request.headers.get("Origin"))
    method = request.headers.get("Access-Control-Request-Method", "")
    asked = _header_list(request.headers.get("Access-Control-Request-Headers", ""))
    allowed_headers = {name.lower() for name in ALLOWED_HEADERS}
    if allow is None:
        return _refused("this origin is not allowed", "Origin")
    if method not in ALLOWED_METHODS:
        return _refused(f"method {method!r} is not allowed", "Access-Control-Request-Method")
    extra = sorted(set(asked) - allowed_headers)
    if extra:
        return _refused(
            f"headers not allowed: {', '.join(extra)}", "Access-Control-Request-Headers"
        )
    response = web.Response(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Origin": allow,
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(policy.max_age),
        }
    )
    _vary(response, ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"))
    return response


def _refused(message: str, field: str) -> web.Response:
    body = {"error": {"code": "cors_refused", "message": message, "field": field}}
    return web.Response(status=403, text=json.dumps(body), content_type="application/json")


def _origin(item: str) -> str:
    value = item.strip()
    if value == ANY:
        return ANY
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or value != _bare(parts):
        raise ValueError(f"{value!r} is not an origin like https://app.example.com[:port]")
    return value


def _bare(parts: SplitResult) -> str:
    return f"{parts.scheme}://{parts.netloc}"


def _header_list(value: str) -> list[str]:
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _vary(response: web.StreamResponse, names: Iterable[str]) -> None:
    present = _header_list(response.headers.get("Vary", ""))
    missing = [name for name in names if name.lower() not in present]
    if missing:
        current = response.headers.get("Vary")
        response.headers["Vary"] = ", ".join([*([current] if current else []), *missing])
