"""The screenshot route: `GET /audits/{id}/screenshots/{n}`, the image an event names."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from server.api.state import SCREENSHOTS
from server.errors import ApiError

HEADERS: Final = {
    "Cache-Control": "private, max-age=3600",  # an audit's screenshot never changes
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}


async def get_screenshot(request: web.Request) -> web.Response:
    from server.api.routes import audit_id  # routes imports this module to register it

    identifier = audit_id(request)
    number = request.match_info["n"]
    # ASCII digits only: '²'.isdigit() is true and int() refuses it.
    valid = number.isascii() and number.isdigit() and len(number) <= 9
    shot = await request.app[SCREENSHOTS].load(identifier, int(number)) if valid else None
    if shot is None:
        raise ApiError(404, "not_found", f"no screenshot {number!r} in audit {identifier}", "n")
    return web.Response(body=shot.data, content_type=shot.mime, headers=HEADERS)
