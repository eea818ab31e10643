"""The body of `POST /audits`: parsed and checked once, into an `AuditRequest`."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from protocol import targets
from protocol.errors import TargetError
from protocol.events import IPC_MODES, TIERS, VERDICT_MODES
from protocol.targets import ConnectTo, ParsedTarget, parse_connect_to
from server.errors import ApiError

DEFAULT_TIER: Final = "standard_audit"
DEFAULT_VERDICT_MODE: Final = "simple"
FIELDS: Final = frozenset(
    {"url", "tier", "verdict_mode", "security_modules", "ipc", "connect_to", "ca_pem"}
)
MODULE_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_MODULES: Final = 32
MAX_CONNECT_TO: Final = 8
MAX_CA_PEM_BYTES: Final = 32 * 1024  # within the body limit, room for a chain


@dataclass(frozen=True, slots=True)
class AuditRequest:
    url: str
    target: ParsedTarget
    tier: str = DEFAULT_TIER
    verdict_mode: str = DEFAULT_VERDICT_MODE
    security_modules: tuple[str, ...] | None = None
    ipc: str | None = None  # None: the server's configured choice
    connect_to: tuple[ConnectTo, ...] = ()  # as curl's --connect-to; the guard judges ADDR
    ca_pem: str | None = None  # CA certificates (PEM) the worker trusts instead of the system's


def bad(field: str | None, message: str, code: str = "invalid") -> ApiError:
    return ApiError(400, code, message, field)


def parse_audit_request(body: bytes, max_url_length: int) -> AuditRequest:
    """Validate a request body; raises `ApiError` 400 naming the first bad field."""
    obj = _json_object(body)
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field {unknown[0]!r}", "unknown_field")
    if "url" not in obj:
        raise bad("url", "url is required", "missing_field")
    target = check_url(obj["url"], max_url_length)
    return AuditRequest(
        url=target.url,
        target=target,
        tier=_choice(obj, "tier", TIERS, DEFAULT_TIER),
        verdict_mode=_choice(obj, "verdict_mode", VERDICT_MODES, DEFAULT_VERDICT_MODE),
        security_modules=_modules(obj.get("security_modules")),
        ipc=_choice(obj, "ipc", IPC_MODES, None),
        connect_to=_connect_to(obj.get("connect_to")),
        ca_pem=_ca_pem(obj.get("ca_pem")),
    )


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise bad(None, f"body is not valid JSON: {exc}", "bad_json") from exc
    if not isinstance(obj, dict):
        raise bad(None, f"body must be a JSON object, not {type(obj).__name__}", "bad_json")
    return obj


def check_url(value: object, max_length: int) -> ParsedTarget:
    """An absolute http(s) URL with a host, within the length limit (the shared rules)."""
    if not isinstance(value, str):
        raise bad("url", f"url must be a string, not {type(value).__name__}")
    if len(value) > max_length:
        raise bad("url", f"url is longer than {max_length} characters", "url_too_long")
    try:
        return targets.check_url(value, max_length)
    except TargetError as exc:
        raise bad("url", str(exc), "bad_url") from exc


def _choice(
    obj: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str | None
) -> Any:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise bad(name, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _modules(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad("security_modules", "security_modules must be a list of module names")
    if len(value) > MAX_MODULES:
        raise bad("security_modules", f"at most {MAX_MODULES} security modules")
    for name in value:
        if not MODULE_NAME.fullmatch(name):
            raise bad("security_modules", f"{name!r} is not a module name")
    return tuple(dict.fromkeys(value))


def _connect_to(value: object) -> tuple[ConnectTo, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad("connect_to", "connect_to must be a list of HOST:PORT:ADDR:PORT strings")
    if len(value) > MAX_CONNECT_TO:
        raise bad("connect_to", f"at most {MAX_CONNECT_TO} connect_to rules")
    try:
        return tuple(parse_connect_to(text) for text in value)
    except TargetError as exc:
        raise bad("connect_to", str(exc), "bad_connect_to") from exc


def _ca_pem(value: object) -> str | None:
    """PEM text that loads as at least one CA certificate (a path would read server files)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad("ca_pem", f"ca_pem must be PEM text, not {type(value).__name__}")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_CA_PEM_BYTES:
        raise bad("ca_pem", f"ca_pem is larger than {MAX_CA_PEM_BYTES} bytes")
    if not value.isascii() or "-----BEGIN CERTIFICATE-----" not in value:
        raise bad("ca_pem", "ca_pem must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError) as exc:
        raise bad("ca_pem", f"ca_pem holds no usable CA certificate: {exc}", "bad_ca_pem") from exc
    return value
