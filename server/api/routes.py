"""The HTTP handlers: thin, each one parse -> act -> render; errors are `ApiError`s."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final, get_args

from aiohttp import web

from protocol.targets import is_allowed_endpoint
from server.api import history
from server.api.guard import check_target
from server.api.screenshots import get_screenshot
from server.api.state import CONFIG, CONNECTIONS, SCHEDULER, STORE, SUBSCRIBERS
from server.api.validation import parse_audit_request, shown
from server.cluster import CANCELLER, FOLLOWERS
from server.config import ServerConfig
from server.errors import ApiError, NotFound
from server.stores.store import FINISHED, AuditRecord, AuditStatus
from server.streaming.log import AuditLog
from server.streaming.scheduler import Audit, Scheduler
from server.streaming.sse import check_cursor, last_event_id, stream_log

logger: Final = logging.getLogger("server.api.routes")
# secrets.token_urlsafe(16): 22 characters of the URL-safe base64 alphabet.
AUDIT_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
STATUSES: Final = get_args(AuditStatus)
# aiohttp's deflate decoder can leave a body unfinished (neither data nor error) until the
# body deadline; a JSON body this small gains nothing from it anyway.
BODY_ENCODINGS: Final = frozenset({"identity", "gzip"})


def audit_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not AUDIT_ID.fullmatch(value):
        raise NotFound(value)
    return value


def events_url(audit_id: str) -> str:
    return f"/audits/{audit_id}/events"


def render(record: AuditRecord, *, with_result: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "status": record.status,
        "url": record.url,
        "tier": record.tier,
        "verdict_mode": record.verdict_mode,
        "security_modules": list(record.security_modules)
        if record.security_modules is not None
        else None,
        "ipc": record.ipc,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "trust_score": record.trust_score,
        "risk_level": record.risk_level,
        "error_code": record.error_code,
        "error": record.error,
        "events_url": events_url(record.id),
    }
    if with_result:
        body["result"] = record.result
    return body


async def read_body(request: web.Request, limit: int, seconds: float) -> bytes:
    """The whole body, within `limit` bytes and `seconds`; a client that leaves is no error."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in BODY_ENCODINGS:
        raise ApiError(
            415,
            "unsupported_encoding",
            f"a body may be sent plain or gzipped, not {shown(encoding)}",
        )
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large(limit) from exc
    except TimeoutError as exc:
        raise ApiError(408, "body_timeout", f"the body took longer than {seconds:g} s") from exc
    except ConnectionResetError as exc:
        logger.debug("client left during the body of %s %s", request.method, request.path)
        raise ApiError(400, "client_gone", "the connection closed during the body") from exc
    except web.RequestPayloadError as exc:
        raise undecodable(request) from exc


def undecodable(request: web.Request) -> ApiError:
    encoding = request.headers.get("Content-Encoding", "")
    how = f" (Content-Encoding: {shown(encoding)})" if encoding else ""
    return ApiError(400, "bad_body", f"the body cannot be decoded{how}")


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body exceeds the limit of {limit} bytes")


def wants_stream(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


async def create_audit(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    raw = await read_body(request, config.max_body_bytes, config.body_timeout)
    audit_request = parse_audit_request(raw, config.max_url_length)
    target = audit_request.target
    # An endpoint opened by VERITAS_ALLOW_TARGETS passes as itself, never through a rule.
    opened = not audit_request.connect_to and is_allowed_endpoint(target, config.allow_targets)
    if not config.allow_private_targets and not opened:
        await check_target(target, config.resolve_timeout, audit_request.connect_to)
    audit = await request.app[SCHEDULER].submit(audit_request)
    headers = {"Location": f"/audits/{audit.id}"}
    if wants_stream(request):
        # With a shared store the audit may run on another instance: its log is found there.
        log = await find_log(request, audit.id) if config.store_url else audit.log
        return await stream_log(
            request, log, 0, config.sse, request.app[SUBSCRIBERS], headers=headers
        )
    body = {key: render(audit.record)[key] for key in ("id", "status", "url", "events_url")}
    return web.json_response(body, status=202, headers=headers)


async def find_record(request: web.Request, audit_id: str) -> AuditRecord:
    audit = request.app[SCHEDULER].get(audit_id)
    if audit is not None:
        return audit.record
    record = await request.app[STORE].get_audit(audit_id)
    if record is None:
        raise NotFound(audit_id)
    return record


async def get_audit(request: web.Request) -> web.Response:
    record = await find_record(request, audit_id(request))
    return web.json_response(render(record))


async def find_log(request: web.Request, audit_id: str) -> AuditLog:
    audit = request.app[SCHEDULER].get(audit_id)
    if audit is not None:
        return audit.log
    followers = request.app.get(FOLLOWERS)  # a shared store: the audit may run elsewhere
    if followers is not None:
        followed = await followers.log(audit_id)
        if followed is not None:
            return followed
    await find_record(request, audit_id)
    stored = await request.app[STORE].load_events(audit_id)
    return AuditLog.from_stored(audit_id, request.app[CONFIG].log_limits, stored)


async def audit_events(request: web.Request) -> web.StreamResponse:
    identifier = audit_id(request)
    after = last_event_id(request)
    log = await find_log(request, identifier)
    if not check_cursor(log, after):
        return web.Response(status=204)
    return await stream_log(request, log, after, request.app[CONFIG].sse, request.app[SUBSCRIBERS])


async def delete_audit(request: web.Request) -> web.Response:
    identifier = audit_id(request)
    audit: Audit | None = await request.app[SCHEDULER].cancel(identifier)
    if audit is not None:
        return web.json_response(render(audit.record))
    canceller = request.app.get(CANCELLER)  # a shared store: it may be queued or run elsewhere
    remote = None if canceller is None else await canceller.cancel(identifier)
    if remote is not None:
        return web.json_response(render(remote))
    record = await find_record(request, identifier)
    if record.status in FINISHED:
        raise ApiError(409, "already_finished", f"audit {identifier} has already finished", "id")
    raise ApiError(409, "not_running", f"audit {identifier} is not run by this server", "id")


async def list_audits(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid", f"status must be one of {', '.join(STATUSES)}", "status")
    limit = _limit(request.query.get("limit"), config)
    before = request.query.get("before") or None
    if before is not None and not AUDIT_ID.fullmatch(before):
        raise ApiError(400, "invalid", "before must be an audit id", "before")
    wanted = history.read_filter(request.query, config.max_url_length)
    if wanted is not None:  # ?url= / ?host=: server/api/history.py
        found, cursor = await history.search(
            request.app[STORE],
            wanted,
            status=status,  # type: ignore[arg-type]
            limit=limit,
            before=before,
            scan_limit=config.history_scan_limit,
        )
        items = [render(record, with_result=False) for record in found]
        return web.json_response({"audits": items, "next_before": cursor})
    records = await request.app[STORE].list_audits(
        status=status,  # type: ignore[arg-type]
        limit=limit,
        before=before,
    )
    items = [render(record, with_result=False) for record in records]
    next_before = items[-1]["id"] if len(items) == limit else None
    return web.json_response({"audits": items, "next_before": next_before})


def _limit(raw: str | None, config: ServerConfig) -> int:
    if raw is None or raw == "":
        return config.list_default_limit
    highest = config.list_max_limit
    # ASCII digits only ('²'.isdigit() is true), and few enough for int() to be cheap.
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0
    if not 1 <= number <= highest:
        raise ApiError(400, "invalid", f"limit must be an integer in 1..{highest}", "limit")
    return number


async def healthz(request: web.Request) -> web.Response:
    scheduler: Scheduler = request.app[SCHEDULER]
    subscribers = request.app[SUBSCRIBERS]
    failure = scheduler.failure  # the store has stopped: audits cannot be kept
    body: dict[str, Any] = {
        "status": "ok" if failure is None else "failing",
        "running": scheduler.running,
        "queued": scheduler.queued,
        "subscribers": subscribers.active,
        "slow_subscribers_closed": subscribers.dropped,
        "connections": request.app[CONNECTIONS].counts(),
    }
    if failure is not None:
        body["error"] = {"code": "store_unavailable", "message": failure, "field": None}
    return web.json_response(body, status=200 if failure is None else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/audits", create_audit)
    app.router.add_get("/audits", list_audits)
    app.router.add_get("/audits/{id}", get_audit)
    app.router.add_delete("/audits/{id}", delete_audit)
    # HEAD would open a stream that sends nothing and lasts as long as the audit.
    app.router.add_get("/audits/{id}/events", audit_events, allow_head=False)
    app.router.add_get("/audits/{id}/screenshots/{n}", get_screenshot)
    app.router.add_get("/healthz", healthz)
