"""`GET /audits/{id}/report`: the finished audit as one self-contained HTML page, or its JSON.

The page is rendered by `protocol.report`, the same renderer as the auditor's
`--report html`, and served under its own Content-Security-Policy (the inline style is
allowed by its hash, nothing else loads). `Accept: application/json` gives the result map.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Final

from aiohttp import web

from protocol.report import REPORT_CSP, Screenshot, render_html
from server.api.routes import audit_id, find_record
from server.api.state import SCREENSHOTS, STORE
from server.errors import ApiError
from server.stores.store import FINISHED, AuditRecord

MAX_SCREENSHOTS: Final = 10


async def audit_report(request: web.Request) -> web.Response:
    record = await finished_record(request, audit_id(request))
    assert record.result is not None  # finished_record refuses an audit without one
    if wants_json(request):
        return web.json_response(dict(record.result))
    page = render_html(
        record.result,
        screenshots=await screenshots(request, record.id),
        generated=f"Audit {record.id}, finished {when(record.finished_at)}.",
    )
    headers = {"Content-Security-Policy": REPORT_CSP}
    if request.query.get("download") not in (None, "", "0"):
        headers["Content-Disposition"] = f'attachment; filename="veritas-{record.id}.html"'
    return web.Response(text=page, content_type="text/html", headers=headers)


async def finished_record(request: web.Request, identifier: str) -> AuditRecord:
    """The audit's record once it has a result; 409 while it runs or when it ended without one."""
    record = await find_record(request, identifier)
    if record.status not in FINISHED:
        raise ApiError(
            409, "not_finished", f"audit {identifier} is {record.status}; wait for its end", "id"
        )
    if record.result is None:
        why = record.error or "no reason given"
        raise ApiError(409, "no_result", f"audit {identifier} ended without a result: {why}", "id")
    return record


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def when(stamp: float | None) -> str:
    if stamp is None:
        return "at an unknown time"
    moment = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def screenshots(request: web.Request, identifier: str) -> list[Screenshot]:
    """The audit's `screenshot` events, if the auditor took any; bytes travel as `data_b64`."""
    found: list[Screenshot] = []
    for stored in await request.app[STORE].load_events(identifier):
        if stored.type != "screenshot" or len(found) == MAX_SCREENSHOTS:
            continue
        fields = json.loads(stored.data)
        try:
            data = base64.b64decode(fields.get("data_b64", ""), validate=True)
        except ValueError:
            continue
        index = fields.get("index")
        if not data and isinstance(index, int) and fields.get("src"):
            # The log keeps a reference; the image itself is in the screenshot store.
            kept = await request.app[SCREENSHOTS].load(identifier, index)
            data = kept.data if kept is not None else b""
        if data:
            label, mime = str(fields.get("label", "")), str(fields.get("mime", ""))
            found.append(Screenshot(label, mime, data))
    return found
