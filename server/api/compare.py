"""`GET /audits/{id}/compare/{other}`: what changed between two finished audits of one site.

`{id}` is the base, `{other}` the audit compared with it (usually the later one). Findings
are matched by their id, which is stable across runs for the same evidence on the same page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from server.api.reports import finished_record
from server.api.routes import AUDIT_ID, audit_id
from server.errors import ApiError, NotFound
from server.stores.store import AuditRecord


async def compare_audits(request: web.Request) -> web.Response:
    other_id = request.match_info["other"]
    if not AUDIT_ID.fullmatch(other_id):
        raise NotFound(other_id)
    base = await finished_record(request, audit_id(request))
    other = await finished_record(request, other_id)
    if site(base.url) != site(other.url):
        raise ApiError(
            409,
            "different_sites",
            f"audit {base.id} is of {site(base.url)}, audit {other.id} of {site(other.url)}",
            "other",
        )
    return web.json_response(comparison(base, other))


def site(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def comparison(base: AuditRecord, other: AuditRecord) -> dict[str, Any]:
    old, new = base.result or {}, other.result or {}
    old_findings, new_findings = _by_id(old), _by_id(new)
    appeared = [_brief(f) for i, f in new_findings.items() if i not in old_findings]
    resolved = [_brief(f) for i, f in old_findings.items() if i not in new_findings]
    change = int(new.get("trust_score", 0)) - int(old.get("trust_score", 0))
    return {
        "site": site(base.url),
        "base": _side(base),
        "other": _side(other),
        "score_change": change,
        "risk_level_changed": old.get("risk_level") != new.get("risk_level"),
        "signal_changes": _signals(old, new),
        "new_findings": appeared,
        "resolved_findings": resolved,
        "unchanged_findings": len(set(old_findings) & set(new_findings)),
        "summary": _summary(old, new, change, len(appeared), len(resolved)),
    }


def _side(record: AuditRecord) -> dict[str, Any]:
    result = record.result or {}
    return {
        "id": record.id,
        "url": record.url,
        "finished_at": record.finished_at,
        "trust_score": result.get("trust_score"),
        "risk_level": result.get("risk_level"),
    }


def _by_id(result: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = result.get("findings") or []
    return {str(f.get("id")): f for f in found if isinstance(f, Mapping)}


def _brief(finding: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "pattern_type", "severity", "plain_english", "url")
    return {key: finding.get(key) for key in keys}


def _signals(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    before, after = old.get("signal_scores") or {}, new.get("signal_scores") or {}
    changes: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys([*before, *after]):
        a, b = before.get(name), after.get(name)
        delta = b - a if isinstance(a, int) and isinstance(b, int) else None
        changes[name] = {"base": a, "other": b, "change": delta}
    return changes


def _summary(
    old: Mapping[str, Any], new: Mapping[str, Any], change: int, appeared: int, resolved: int
) -> str:
    score = f"The trust score went from {old.get('trust_score')} to {new.get('trust_score')}"
    score += f" ({change:+d})" if change else " (no change)"
    return f"{score}; {resolved} finding(s) gone, {appeared} new."
