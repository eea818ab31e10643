"""The errors of the server, and the JSON shape a client sees.

    ServerError              root of every error raised by the `server` package
    ├── ConfigError          the configuration (CLI flags, VERITAS_* variables) is invalid
    └── ApiError             a request cannot be served; carries its HTTP status
        ├── QueueFull        429: every worker is busy and the queue is at its limit
        └── NotFound         404: no such audit (or an id that cannot be one)

An `ApiError` renders as `{"error": {"code": ..., "message": ..., "field": ...}}`.
"""

from __future__ import annotations

from typing import Any, Final

# The `code` of an error aiohttp raises itself (no route, a bad head), by HTTP status.
HTTP_CODES: Final = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_encoding",
    431: "headers_too_large",
    500: "internal",
}


class ServerError(Exception):
    """Root of every error raised by the `server` package."""


class ConfigError(ServerError):
    """Invalid configuration; the message names the flag or variable and what is wrong."""


class ApiError(ServerError):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class QueueFull(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "queue_full",
            "too many audits are waiting; retry later",
            headers={"Retry-After": str(retry_after)},
        )


class NotFound(ApiError):
    def __init__(self, audit_id: str) -> None:
        super().__init__(404, "not_found", f"no audit with id {audit_id!r}", "id")
