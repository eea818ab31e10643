"""The bearer token: every API route requires `Authorization: Bearer <token>`.

Open without it: `/healthz` (liveness probes), and the live audit page (`/` and its files
under `/static/`), which holds no data and must load before it can ask for the token.

A browser's `EventSource` cannot send headers, so the events route (and only it) also
accepts the token as `?access_token=`. Tokens are compared in constant time. A CORS
preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no credentials by
design and is let through: the CORS middleware, placed before this one, answers it.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

OPEN_PATHS: Final = frozenset({"/healthz", "/"})
OPEN_PREFIXES: Final = ("/static/",)
EVENTS_PATH: Final = re.compile(r"^/audits/[^/]+/events$")
_BEARER: Final = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)


def auth_middleware(token: str) -> Middleware:
    """A middleware that refuses requests without `token` with 401."""
    if not token:
        raise ValueError("the API token must not be empty")
    expected = token.encode("utf-8")

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_open(request.path) or _is_preflight(request):
            return await handler(request)
        presented = presented_token(request)
        if presented is None:
            return unauthorized("missing_token", "this server requires a bearer token")
        if not hmac.compare_digest(presented.encode("utf-8"), expected):
            return unauthorized("bad_token", "the bearer token is not valid")
        return await handler(request)

    return require_token


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def presented_token(request: web.Request) -> str | None:
    """The token from the Authorization header, or from `?access_token=` on the events route."""
    header = request.headers.get("Authorization")
    if header is not None:
        match = _BEARER.match(header)
        return match.group(1) if match else ""
    if request.method == "GET" and EVENTS_PATH.match(request.path):
        return request.query.get("access_token")
    return None


def unauthorized(code: str, message: str) -> web.Response:
    """401 in the API's error shape; RFC 6750 names the error only when a token was sent."""
    challenge = 'Bearer realm="veritas"'
    if code == "bad_token":
        challenge += ', error="invalid_token"'
    body = {"error": {"code": code, "message": message, "field": None}}
    return web.Response(
        status=401,
        text=json.dumps(body),
        content_type="application/json",
        headers={"WWW-Authenticate": challenge},
    )


def _is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
