"""The routes that serve documents around the audits: reports, comparisons, the API description."""

from __future__ import annotations

from aiohttp import web

from server.api.compare import compare_audits
from server.api.openapi import openapi_json
from server.api.reports import audit_report


def add_document_routes(app: web.Application) -> None:
    app.router.add_get("/audits/{id}/report", audit_report)
    app.router.add_get("/audits/{id}/compare/{other}", compare_audits)
    app.router.add_get("/openapi.json", openapi_json)
