"""`GET /openapi.json`: the HTTP API described in OpenAPI 3.1, every route with its errors.

Built from the same constants the handlers check (tiers, statuses, event types, limits),
so the description cannot drift from what is enforced; `make test` runs schemathesis
against a live server from this document.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, Final

from aiohttp import web

from protocol.events import EVENT_SPECS, IPC_MODES, SECURITY_MODULES, TIERS, VERDICT_MODES
from server.api.state import CONFIG
from server.api.validation import MAX_CA_PEM_BYTES, MAX_CONNECT_TO
from server.config import ServerConfig

Json = dict[str, Any]
AUDIT_ID_PATTERN: Final = "^[A-Za-z0-9_-]{22}$"
STATUSES: Final = ("queued", "running", "complete", "error")
EXAMPLE_ID: Final = "q4Zb2cX0pYv1kLm3Nn5sTw"


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[CONFIG]))


def document(config: ServerConfig) -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veritas",
            "version": _version(),
            "description": "Audits how trustworthy a website is and streams every audit live "
            "as Server-Sent Events. Every error has the shape of `Error`.",
        },
        "paths": paths(config),
        "components": {"schemas": schemas(config), "securitySchemes": _security()},
        "security": [{}, {"bearer": []}],
    }


def _version() -> str:
    try:
        return importlib.metadata.version("veritas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _security() -> Json:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Required on every route but /, /static/ and /healthz when the "
            "server has VERITAS_API_TOKEN set.",
        }
    }


# schemas ------------------------------------------------------------------------------------


def _nullable(kind: str) -> Json:
    return {"type": [kind, "null"]}


def schemas(config: ServerConfig) -> Json:
    return {
        "Error": _error_schema(),
        "AuditRequest": _request_schema(config),
        "AuditCreated": _object(
            {
                "id": {"type": "string", "pattern": AUDIT_ID_PATTERN},
                "status": {"type": "string", "enum": list(STATUSES)},
                "url": {"type": "string"},
                "events_url": {"type": "string"},
            }
        ),
        "AuditSummary": _object(_record_fields()),
        "Audit": _object({**_record_fields(), "result": {"type": ["object", "null"]}}),
        "AuditList": _object(
            {
                "audits": {"type": "array", "items": {"$ref": "#/components/schemas/AuditSummary"}},
                "next_before": _nullable("string"),
            }
        ),
        "Result": _result_schema(),
        "Comparison": _comparison_schema(),
        "Health": _object(
            {
                "status": {"type": "string", "const": "ok"},
                "running": {"type": "integer", "minimum": 0},
                "queued": {"type": "integer", "minimum": 0},
                "subscribers": {"type": "integer", "minimum": 0},
                "slow_subscribers_closed": {"type": "integer", "minimum": 0},
            }
        ),
    }


def _object(properties: Json, required: list[str] | None = None) -> Json:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def _error_schema() -> Json:
    inner = _object(
        {
            "code": {"type": "string", "examples": ["bad_url"]},
            "message": {"type": "string", "examples": ["only http and https URLs can be audited"]},
            "field": {**_nullable("string"), "examples": ["url"]},
        }
    )
    return {**_object({"error": inner}), "description": "The shape of every error response."}


def _request_schema(config: ServerConfig) -> Json:
    properties = {
        "url": {
            "type": "string",
            "maxLength": config.max_url_length,
            "description": "An absolute http or https URL; a public host unless the server "
            "allows private targets.",
            "examples": ["https://example.org/"],
        },
        # null stands for the default, as if the field were left out
        "tier": {"type": ["string", "null"], "enum": [*TIERS, None], "default": "standard_audit"},
        "verdict_mode": {
            "type": ["string", "null"],
            "enum": [*VERDICT_MODES, None],
            "default": "simple",
        },
        "security_modules": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(SECURITY_MODULES)},
        },
        "ipc": {"type": ["string", "null"], "enum": [*IPC_MODES, None]},
        "connect_to": {
            "type": ["array", "null"],
            "maxItems": MAX_CONNECT_TO,
            "items": {"type": "string"},
            "description": "HOST:PORT:ADDR:PORT rules, as curl's --connect-to; the guard "
            "judges ADDR",
            "examples": [["shop.example.com:443:203.0.113.5:443"]],
        },
        "ca_pem": {
            "type": ["string", "null"],
            "maxLength": MAX_CA_PEM_BYTES,
            "description": "PEM CA certificates to verify TLS against instead of the system's",
        },
    }
    return {
        **_object(properties, ["url"]),
        "additionalProperties": False,
        "examples": [{"url": "https://example.org/", "tier": "quick_scan"}],
    }


def _record_fields() -> Json:
    return {
        "id": {"type": "string", "pattern": AUDIT_ID_PATTERN},
        "status": {"type": "string", "enum": list(STATUSES)},
        "url": {"type": "string"},
        "tier": {"type": "string", "enum": list(TIERS)},
        "verdict_mode": {"type": "string", "enum": list(VERDICT_MODES)},
        "security_modules": {"type": ["array", "null"], "items": {"type": "string"}},
        "ipc": {"type": "string"},
        "created_at": {"type": "number"},
        "started_at": _nullable("number"),
        "finished_at": _nullable("number"),
        "trust_score": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "risk_level": _nullable("string"),
        "error_code": _nullable("string"),
        "error": _nullable("string"),
        "events_url": {"type": "string"},
    }


def _result_schema() -> Json:
    finding = _object(
        {name: {"type": "string"} for name in ("id", "category", "pattern_type", "severity")},
    )
    return {
        "type": "object",
        "description": "The audit_result event's map: score, level, findings and the rest.",
        "properties": {
            "trust_score": {"type": "integer", "minimum": 0, "maximum": 100},
            "risk_level": {
                "type": "string",
                "enum": [
                    "trusted",
                    "probably_safe",
                    "suspicious",
                    "high_risk",
                    "likely_fraudulent",
                ],
            },
            "findings": {"type": "array", "items": finding},
        },
        "required": ["trust_score", "risk_level", "findings"],
    }


def _comparison_schema() -> Json:
    side = _object(
        {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "finished_at": _nullable("number"),
            "trust_score": _nullable("integer"),
            "risk_level": _nullable("string"),
        }
    )
    return _object(
        {
            "site": {"type": "string"},
            "base": side,
            "other": side,
            "score_change": {"type": "integer"},
            "risk_level_changed": {"type": "boolean"},
            "signal_changes": {"type": "object"},
            "new_findings": {"type": "array", "items": {"type": "object"}},
            "resolved_findings": {"type": "array", "items": {"type": "object"}},
            "unchanged_findings": {"type": "integer", "minimum": 0},
            "summary": {"type": "string"},
        }
    )


# paths --------------------------------------------------------------------------------------


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: str, description: str, example: Any = None) -> Json:
    content: Json = {"schema": _ref(schema)}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


ERROR_EXAMPLES: Final = {
    "400": ("bad_url", "only http and https URLs can be audited", "url"),
    "401": ("missing_token", "this server requires a bearer token", None),
    "403": ("forbidden_target", "127.0.0.1 is a loopback address", "url"),
    "404": ("not_found", "no audit q4Zb2cX0pYv1kLm3Nn5sTw", "id"),
    "409": ("not_finished", "audit q4Zb2cX0pYv1kLm3Nn5sTw is running; wait for its end", "id"),
    "413": ("body_too_large", "the body exceeds the limit of 65536 bytes", None),
    "429": ("queue_full", "too many audits are waiting; retry later", None),
    "503": ("shutting_down", "the server is shutting down", None),
}


def errors(*statuses: str) -> Json:
    return {
        status: _json(
            "Error",
            f"an error ({ERROR_EXAMPLES[status][0]} and others)",
            {"error": dict(zip(("code", "message", "field"), ERROR_EXAMPLES[status], strict=True))},
        )
        for status in statuses
    }


def _id_parameter(name: str = "id") -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": AUDIT_ID_PATTERN},
        "example": EXAMPLE_ID,
    }


def _query(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def paths(config: ServerConfig) -> Json:
    return {
        "/audits": {"post": _create(), "get": _list(config)},
        "/audits/{id}": {"get": _get(), "delete": _delete()},
        "/audits/{id}/events": {"get": _events()},
        "/audits/{id}/report": {"get": _report()},
        "/audits/{id}/compare/{other}": {"get": _compare()},
        "/audits/{id}/screenshots/{n}": {"get": _screenshot()},
        "/healthz": {"get": _simple("Liveness and load", _json("Health", "the server is up"))},
        "/metrics": {"get": _simple("Prometheus metrics", _text("text/plain", "metrics"))},
        "/openapi.json": {
            "get": _simple(
                "This document",
                {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            )
        },
        "/": {"get": _simple("The live audit page", _text("text/html", "the page"))},
    }


def _text(media: str, description: str) -> Json:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _simple(summary: str, ok: Json) -> Json:
    return {"summary": summary, "security": [{}], "responses": {"200": ok}}


SSE_EXAMPLE: Final = (
    "id: 1\nevent: audit_queued\n"
    'data: {"v":1,"type":"audit_queued","seq":0,"ts":1764500000.0,'
    f'"audit_id":"{EXAMPLE_ID}","url":"https://example.org/","tier":"quick_scan","ipc":"pipe"}}\n\n'
    ": ping\n\n"
)


def _sse(description: str) -> Json:
    types = ", ".join(EVENT_SPECS)
    return {
        "description": f"{description} Server-Sent Events: `id` is the event's position in "
        f"the audit's log, `event` its type ({types}), `data` the event as JSON. The stream "
        "ends after `audit_complete` or `audit_error`; `: ping` comments keep it open.",
        "content": {"text/event-stream": {"schema": _sse_message(), "example": SSE_EXAMPLE}},
    }


def _sse_message() -> Json:
    """One message of the stream (comments carry no message)."""
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "event": {"type": "string", "enum": list(EVENT_SPECS)},
            "data": {"type": "string", "contentMediaType": "application/json"},
            "retry": {"type": "integer", "minimum": 0},
        },
        "required": ["data"],
    }


def _create() -> Json:
    created = _json(
        "AuditCreated",
        "queued; follow events_url",
        {
            "id": EXAMPLE_ID,
            "status": "queued",
            "url": "https://example.org/",
            "events_url": f"/audits/{EXAMPLE_ID}/events",
        },
    )
    return {
        "summary": "Start an audit",
        "description": "With `Accept: text/event-stream` the answer is the audit's event "
        "stream itself (200); otherwise 202 with the audit's id.",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("AuditRequest")}},
        },
        "responses": {
            "200": _sse("The audit's events, from the first."),
            "202": created,
            **errors("400", "401", "403", "413", "429", "503"),
        },
    }


def _list(config: ServerConfig) -> Json:
    limit = {"type": "integer", "minimum": 1, "maximum": config.list_max_limit}
    return {
        "summary": "Recent audits, newest first",
        "parameters": [
            _query("status", {"type": "string", "enum": list(STATUSES)}, "only this status"),
            _query("limit", limit, f"at most this many (default {config.list_default_limit})"),
            _query(
                "before",
                {"type": "string", "pattern": AUDIT_ID_PATTERN},
                "only audits created before this one (the previous page's next_before)",
            ),
            _query("url", {"type": "string", "format": "uri"}, "only audits of this exact URL"),
            _query(
                "host",
                {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,253}$"},
                "only audits of this host",
            ),
        ],
        "responses": {"200": _json("AuditList", "one page of audits"), **errors("400", "401")},
    }


def _get() -> Json:
    return {
        "summary": "One audit, with its result once finished",
        "parameters": [_id_parameter()],
        "responses": {"200": _json("Audit", "the audit"), **errors("401", "404")},
    }


def _delete() -> Json:
    return {
        "summary": "Cancel a queued or running audit",
        "parameters": [_id_parameter()],
        "responses": {"200": _json("Audit", "cancelled"), **errors("401", "404", "409")},
    }


def _events() -> Json:
    return {
        "summary": "The audit's event stream (live, or replayed once finished)",
        "parameters": [
            _id_parameter(),
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                "description": "resume after this position",
            },
            _query(
                "last_event_id",
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
                "the same, for clients that cannot set headers",
            ),
            _query("access_token", {"type": "string"}, "the token, for EventSource"),
        ],
        "responses": {
            "200": _sse("The events after the given position."),
            "204": {"description": "the audit has ended and nothing is left after that position"},
            **errors("400", "401", "404"),
        },
    }


def _report() -> Json:
    html_report = {
        "description": "The report: one self-contained HTML page; with "
        "`Accept: application/json`, the result map instead",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": _ref("Result")},
        },
    }
    download = _query("download", {"type": "string"}, "any value but 0: served as an attachment")
    return {
        "summary": "The finished audit's report",
        "parameters": [_id_parameter(), download],
        "responses": {"200": html_report, **errors("401", "404", "409")},
    }


def _screenshot() -> Json:
    number = {
        "name": "n",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"},
        "description": "the number a `screenshot` event names in its `src`",
    }
    image = {
        "description": "the image (deep audits), with its own content type",
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    }
    return {
        "summary": "A screenshot of a deep audit",
        "parameters": [_id_parameter(), number],
        "responses": {"200": image, **errors("401", "404")},
    }


def _compare() -> Json:
    return {
        "summary": "What changed between two finished audits of the same site",
        "parameters": [_id_parameter(), _id_parameter("other")],
        "responses": {
            "200": _json("Comparison", "the differences, base -> other"),
            **errors("401", "404", "409"),
        },
    }
