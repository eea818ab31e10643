"""The live audit page in a real headless Chromium, against the real server and worker.

Each test starts the server as a process, serves a slow target site on 127.0.0.1 and
drives the page the way a person would. What the page shows is read from its DOM; what
went over the wire is read from the server (a raw replay) or from a proxy in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page

from tests.browser.proxy import CuttingProxy
from tests.clients.service import (
    Service,
    events,
    read_events,
    request_json,
    run_service,
    start_audit,
)
from tests.clients.target import serve_target

pytestmark = pytest.mark.browser

AUDIT_MS: Final = 90_000
PHASES: Final = ("init", "scout", "security", "content", "intel", "judge")
RISK_TEXTS: Final = (
    "Trusted",
    "Probably safe",
    "Suspicious",
    "High risk",
    "Likely fraudulent",
)
LOG_TYPES: Final = ("log_entry", "ipc_fallback", "audit_error")
# Notes, for each finding the moment it is added to the page, the audit's state then.
# EventSource dispatches one event per task and observers run before the next task, so
# the state seen is the state after the events before this finding, never a later one.
RECORDER: Final = """
window.__findingStates = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.classList.contains("finding")) {
        window.__findingStates.push(document.getElementById("audit-state").dataset.state);
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


async def open_page(browser: Browser, base: str, width: int = 1280) -> Page:
    page = await browser.new_page(viewport={"width": width, "height": 900})
    await page.add_init_script(RECORDER)
    await page.goto(base + "/")
    return page


async def submit(page: Page, url: str, tier: str = "standard_audit") -> None:
    await page.fill("#url", url)
    await page.select_option("#tier", tier)
    await page.click("#start")


async def start_from_page(page: Page, target: str) -> str:
    """Start an audit with the form; its id, read from the page's address."""
    await submit(page, target)
    await page.wait_for_url("**/?audit=*")
    return audit_in(page.url)


def audit_in(url: str) -> str:
    return parse_qs(urlsplit(url).query)["audit"][0]


async def wait_for_end(page: Page) -> str:
    await page.wait_for_function(
        "() => ['done', 'error'].includes(document.getElementById('audit-state').dataset.state)",
        timeout=AUDIT_MS,
    )
    return await page.get_attribute("#audit-state", "data-state") or ""


async def wait_mid_audit(page: Page, log_lines: int) -> None:
    """Until the page shows `log_lines` lines of a running audit."""
    await page.wait_for_function(
        "n => document.querySelectorAll('#log li').length >= n",
        arg=log_lines,
        timeout=AUDIT_MS,
    )
    state = await page.get_attribute("#audit-state", "data-state")
    assert state in ("queued", "running"), f"the audit was no longer running: {state}"


async def event_ids(page: Page, selector: str) -> list[int]:
    ids: list[int] = await page.eval_on_selector_all(
        selector, "nodes => nodes.map((n) => Number(n.dataset.eventId))"
    )
    return ids


def positions(service: Service, audit_id: str, types: tuple[str, ...]) -> list[int]:
    """Where events of `types` sit in the audit's full stream, read raw from the server."""
    found = events(read_events(service, audit_id))
    return [int(m.last_event_id) for m in found if m.type in types]


async def assert_page_matches_stream(page: Page, service: Service, audit_id: str) -> None:
    """Every log line and finding of the stream on the page once, nothing else, none twice."""
    log = await event_ids(page, "#log li")
    findings = await event_ids(page, "#findings li.finding")
    assert sorted(log) == positions(service, audit_id, LOG_TYPES)
    assert sorted(findings) == positions(service, audit_id, ("finding",))
    assert len(set(log)) == len(log) and len(set(findings)) == len(findings)
    assert await page.evaluate("() => window.veritas.stats.duplicates") == 0


async def error_text(page: Page) -> str:
    return await page.text_content("#audit-error") or ""


async def test_an_audit_from_the_page_shows_every_phase_live_findings_and_the_verdict(
    browser: Browser, service: Service, target: str, artifacts: Path
) -> None:
    page = await open_page(browser, service.base)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    audit_id = await start_from_page(page, target)

    assert await wait_for_end(page) == "done", await error_text(page)

    for phase in PHASES:
        assert await page.get_attribute(f"#phases li[data-phase={phase}]", "data-state") == "done"
    assert await page.text_content("#progress-text") == "100%"
    states = await page.evaluate("() => window.__findingStates")
    assert states, "no finding was shown"
    assert all(state in ("queued", "running") for state in states), states
    status, record = request_json("GET", service.url(f"/audits/{audit_id}"))
    assert status == 200
    assert await page.text_content("#trust-score") == str(record["trust_score"])
    assert await page.text_content("#risk-level") in RISK_TEXTS
    assert await page.is_visible("#narrative")
    await assert_page_matches_stream(page, service, audit_id)
    await page.wait_for_selector(f"#history a[data-audit-id='{audit_id}']")
    assert all(url.startswith((service.base, "data:")) for url in requested), requested

    await page.emulate_media(reduced_motion="reduce")  # the progress bar stops animating
    await page.screenshot(path=str(artifacts / "audit-finished-1280.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(artifacts / "audit-finished-390.png"), full_page=True)
    assert (artifacts / "audit-finished-1280.png").stat().st_size > 0


async def test_a_cut_connection_resumes_with_last_event_id_and_duplicates_nothing(
    browser: Browser, service: Service, target: str
) -> None:
    async with CuttingProxy(service.port) as proxy:
        page = await open_page(browser, proxy.base)
        audit_id = await start_from_page(page, target)
        await wait_mid_audit(page, log_lines=3)
        assert proxy.cut() >= 1

        assert await wait_for_end(page) == "done", await error_text(page)
        exchanges = proxy.exchanges(audit_id)

    first, *resumed = exchanges
    assert first.last_event_id is None
    assert resumed, "the browser did not reconnect"
    seen = first.ids
    for stream in resumed:
        # The browser asks for what follows the last event it got; the server sends exactly that.
        assert stream.last_event_id is not None and stream.last_event_id.isdigit()
        after = int(stream.last_event_id)
        assert 0 < after <= seen[-1]
        assert stream.status == 200
        assert stream.ids == list(range(after + 1, after + 1 + len(stream.ids)))
        seen = stream.ids or seen
    assert resumed[-1].events[-1].type == "audit_complete"
    assert int(resumed[0].last_event_id or 0) < resumed[-1].ids[-1], "cut after the end"
    await assert_page_matches_stream(page, service, audit_id)


async def test_a_reload_mid_audit_follows_the_same_audit(
    browser: Browser, service: Service, target: str
) -> None:
    page = await open_page(browser, service.base)
    audit_id = await start_from_page(page, target)
    await wait_mid_audit(page, log_lines=2)

    await page.reload()

    assert audit_in(page.url) == audit_id
    assert await page.text_content("#audit-id") == f"#{audit_id}"
    assert await wait_for_end(page) == "done", await error_text(page)
    status, listing = request_json("GET", service.url("/audits"))
    assert status == 200
    assert [audit["id"] for audit in listing["audits"]] == [audit_id]
    await assert_page_matches_stream(page, service, audit_id)


async def refusal(service: Service, url: str) -> tuple[int, str]:
    status, body = request_json("POST", service.url("/audits"), {"url": url})
    return status, body["error"]["message"]


async def test_a_private_target_is_refused_with_the_servers_message(
    browser: Browser, tmp_path: Path
) -> None:
    with run_service(tmp_path / "server", {"VERITAS_ALLOW_PRIVATE_TARGETS": "0"}) as service:
        page = await open_page(browser, service.base)
        await submit(page, "http://127.0.0.1:9/")
        shown = page.locator("#form-error")
        await shown.wait_for(state="visible")
        status, message = await refusal(service, "http://127.0.0.1:9/")
        assert status == 403
        assert message in (await shown.text_content() or "")
        assert "may not be audited" in (await shown.text_content() or "")
        assert await page.is_hidden("#audit")


async def test_a_bad_url_is_refused_with_the_servers_message(
    browser: Browser, service: Service
) -> None:
    page = await open_page(browser, service.base)
    await submit(page, "ftp://127.0.0.1/file")
    shown = page.locator("#form-error")
    await shown.wait_for(state="visible")
    status, message = await refusal(service, "ftp://127.0.0.1/file")
    assert status == 400
    assert message in (await shown.text_content() or "")


async def test_a_busy_server_is_reported_with_its_retry_delay(
    browser: Browser, tmp_path: Path, target: str
) -> None:
    busy = {"VERITAS_MAX_WORKERS": "1", "VERITAS_MAX_QUEUED": "1", "VERITAS_RETRY_AFTER": "7"}
    with run_service(tmp_path / "server", busy) as service:
        start_audit(service, target)  # runs
        start_audit(service, target)  # waits: the queue is now full
        page = await open_page(browser, service.base)
        await submit(page, target)
        shown = page.locator("#form-error")
        await shown.wait_for(state="visible")
        text = await shown.text_content() or ""
        assert "busy" in text and "7 s" in text, text
        status, body = request_json("GET", service.url("/audits"))
        assert status == 200 and len(body["audits"]) == 2


async def test_with_an_api_token_the_page_asks_for_it_once_and_runs_the_audit(
    browser: Browser, tmp_path: Path, target: str
) -> None:
    token = "page-test-token"
    with run_service(tmp_path / "server", {"VERITAS_API_TOKEN": token}) as service:
        page = await browser.new_page()
        response = await page.goto(service.base + "/")
        assert response is not None and response.status == 200, "the page itself needs no token"
        await submit(page, target)
        shown = page.locator("#form-error")
        await shown.wait_for(state="visible")
        assert "API token is needed" in (await shown.text_content() or "")

        await page.click(".token summary")
        await page.fill("#token", token)
        audit_id = await start_from_page(page, target)

        assert await wait_for_end(page) == "done", await error_text(page)
        assert token not in page.url
        status, _ = request_json("GET", service.url(f"/audits/{audit_id}"))
        assert status == 401  # the audit was reached with the token only


async def test_opening_an_audit_from_the_history_replays_its_stream(
    browser: Browser, service: Service
) -> None:
    with serve_target() as fast_target:
        audit_id = start_audit(service, fast_target)
        replay = events(read_events(service, audit_id))
    page = await open_page(browser, service.base)

    await page.click(f"#history a[data-audit-id='{audit_id}']")

    assert await wait_for_end(page) == "done", await error_text(page)
    assert audit_in(page.url) == audit_id
    findings = sum(m.type == "finding" for m in replay)
    assert await page.locator("#findings li.finding").count() == findings
    await assert_page_matches_stream(page, service, audit_id)
    status, listing = request_json("GET", service.url("/audits"))
    assert status == 200 and len(listing["audits"]) == 1  # replayed, not started again
