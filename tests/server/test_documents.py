"""Reports, comparisons, history filters, the API description and the security headers."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from protocol.report import REPORT_CSP
from server.api.app import create_app
from server.api.compare import comparison
from server.stores.store import AuditRecord
from tests.server.harness import TARGET, finished, service_config, start_audit
from veritas.analysis.headers import grade
from veritas.page import Page, Site

OTHER_SITE = "http://127.0.0.2:9/"


@pytest.fixture
async def client(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config()))


@pytest.fixture
async def sleeping(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config("sleep")))


async def finished_audit(client: TestClient, url: str = TARGET) -> str:
    audit_id = await start_audit(client, url=url)
    await finished(client, audit_id)
    return audit_id


async def error_code(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    code: str = (await response.json())["error"]["code"]
    return code


async def test_the_report_is_html_under_its_own_policy_and_json_on_request(
    client: TestClient,
) -> None:
    audit_id = await finished_audit(client)
    page = await client.get(f"/audits/{audit_id}/report")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"] == REPORT_CSP
    text = await page.text()
    assert "Trust report for" in text and "What was not checked" in text
    assert "Content-Disposition" not in page.headers
    as_json = await client.get(f"/audits/{audit_id}/report", headers={"Accept": "application/json"})
    record = await (await client.get(f"/audits/{audit_id}")).json()
    assert await as_json.json() == record["result"]
    download = await client.get(f"/audits/{audit_id}/report?download=1")
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="veritas-{audit_id}.html"'
    )


async def test_a_report_waits_for_the_end_of_the_audit(sleeping: TestClient) -> None:
    audit_id = await start_audit(sleeping)
    assert await error_code(await sleeping.get(f"/audits/{audit_id}/report"), 409) == (
        "not_finished"
    )
    assert await error_code(await sleeping.get("/audits/" + "x" * 22 + "/report"), 404) == (
        "not_found"
    )


async def test_two_audits_of_one_site_compare_and_of_two_sites_do_not(client: TestClient) -> None:
    first, second = await finished_audit(client), await finished_audit(client)
    response = await client.get(f"/audits/{first}/compare/{second}")
    assert response.status == 200
    body = await response.json()
    assert (body["base"]["id"], body["other"]["id"]) == (first, second)
    assert body["score_change"] == 0
    assert body["new_findings"] == body["resolved_findings"] == []
    assert body["summary"].startswith("The trust score went from 77 to 77 (no change)")
    elsewhere = await finished_audit(client, OTHER_SITE)
    assert await error_code(await client.get(f"/audits/{first}/compare/{elsewhere}"), 409) == (
        "different_sites"
    )


def record(audit_id: str, score: int, finding_ids: list[str]) -> AuditRecord:
    findings = [{"id": i, "pattern_type": f"kind_{i}", "severity": "low"} for i in finding_ids]
    result = {
        "trust_score": score,
        "risk_level": "suspicious",
        "findings": findings,
        "signal_scores": {"security": score},
    }
    return AuditRecord(
        audit_id, TARGET, "quick_scan", "simple", None, "pipe", "complete", 0.0, result=result
    )


def test_a_comparison_names_new_resolved_and_unchanged_findings() -> None:
    body = comparison(record("a", 50, ["x", "y"]), record("b", 65, ["y", "z"]))
    assert [f["id"] for f in body["new_findings"]] == ["z"]
    assert [f["id"] for f in body["resolved_findings"]] == ["x"]
    assert body["unchanged_findings"] == 1
    assert body["score_change"] == 15
    assert body["signal_changes"] == {"security": {"base": 50, "other": 65, "change": 15}}
    assert body["summary"] == "The trust score went from 50 to 65 (+15); 1 finding(s) gone, 1 new."


async def test_history_filters_by_exact_url_and_by_host(client: TestClient) -> None:
    ours = [await finished_audit(client), await finished_audit(client, TARGET + "page")]
    theirs = await finished_audit(client, OTHER_SITE)

    async def listed(query: str) -> list[str]:
        response = await client.get(f"/audits?{query}")
        assert response.status == 200, await response.text()
        return [a["id"] for a in (await response.json())["audits"]]

    assert await listed("host=127.0.0.1") == ours[::-1]
    assert await listed(f"url={TARGET}page") == [ours[1]]
    assert await listed("host=127.0.0.2") == [theirs]
    assert await listed("host=127.0.0.1&limit=1") == [ours[1]]
    assert await error_code(await client.get("/audits?host=a/b"), 400) == "invalid"
    assert await error_code(await client.get("/audits?url=ftp://x"), 400) == "invalid"


async def test_the_api_description_covers_every_route_and_its_error_shape(
    client: TestClient,
) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method in ("HEAD", "OPTIONS") or path is None or path.startswith("/static/"):
            continue  # HEAD mirrors GET; /static/ files are the page's, not the API's
        assert (route.method, path) in described
    error_schema = document["components"]["schemas"]["Error"]
    missing = await (await client.get("/audits/" + "x" * 22)).json()
    jsonschema.validate(missing, error_schema)
    sse = document["paths"]["/audits/{id}/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in sse


def graded(response: Any, body: bytes) -> str:
    """The project's own grader on this response, as if served over https."""
    page = Page(
        url="https://veritas.test/",
        final_url="https://veritas.test/",
        status=response.status,
        headers=tuple(response.headers.items()),
        body=body,
        truncated=False,
    )
    return grade(Site((page,))).grade


async def test_the_page_and_the_report_get_an_a_plus_from_our_own_grader(
    client: TestClient,
) -> None:
    page = await client.get("/")
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert graded(page, await page.read()) == "A+"
    audit_id = await finished_audit(client)
    report = await client.get(f"/audits/{audit_id}/report")
    assert graded(report, await report.read()) == "A+"
    api = await client.get("/healthz")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["X-Frame-Options"] == "DENY"
