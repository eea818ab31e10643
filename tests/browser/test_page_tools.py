"""The live page's tools: the report, Cancel, the history's time and reason, words instead of
codes, no sentence twice, the phone layout, and a page that runs under its strict policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage

from tests.browser.test_page import (
    AUDIT_MS,
    RISK_TEXTS,
    open_page,
    start_from_page,
    wait_for_end,
    wait_mid_audit,
)
from tests.clients.service import Service

pytestmark = pytest.mark.browser


async def test_a_finished_audit_offers_its_report_and_shows_words_not_codes(
    browser: Browser, service: Service, target: str
) -> None:
    page = await open_page(browser, service.base)
    console: list[str] = []

    def note(message: ConsoleMessage) -> None:
        console.append(message.text)

    page.on("console", note)
    audit_id = await start_from_page(page, target)
    assert await wait_for_end(page) == "done"
    assert await page.text_content("#audit-state") == "Finished"
    assert await page.is_visible("#report-actions")
    assert await page.get_attribute("#report-link", "href") == f"/audits/{audit_id}/report"
    async with page.expect_download() as download:
        await page.click("#report-download")
    assert (await download.value).suggested_filename == f"veritas-{audit_id}.html"
    states = await page.eval_on_selector_all("#phases .state", "ns => ns.map(n => n.textContent)")
    assert set(states) == {"Done"}
    shown = await page.eval_on_selector_all(
        "#findings .plain", "ns => ns.filter(n => n.offsetParent !== null).map(n => n.textContent)"
    )
    assert shown and len(shown) == len(set(shown))  # each sentence once in the simple view
    narrative = await page.text_content("#narrative") or ""
    assert narrative and not [sentence for sentence in shown if sentence in narrative]
    entry = page.locator(f"#history a[data-audit-id='{audit_id}']")
    await entry.wait_for()
    assert await entry.locator(".history-reason").text_content() in RISK_TEXTS
    meta = await entry.locator(".history-meta").text_content() or ""
    assert meta.startswith("Finished · Standard audit · score ")
    assert not [text for text in console if "Content Security Policy" in text]


async def test_cancel_stops_a_running_audit_and_says_so(
    browser: Browser, service: Service, target: str
) -> None:
    page = await open_page(browser, service.base)
    await start_from_page(page, target)
    await wait_mid_audit(page, log_lines=2)
    await page.click("#cancel")
    assert await wait_for_end(page) == "error"
    assert "it was cancelled" in (await page.text_content("#audit-error") or "")
    assert await page.is_hidden("#cancel")


async def test_on_a_phone_the_open_audit_and_its_verdict_come_first(
    browser: Browser, service: Service, target: str, artifacts: Path
) -> None:
    page = await open_page(browser, service.base, width=390)
    await start_from_page(page, target)
    await page.wait_for_selector("#result", state="visible", timeout=AUDIT_MS)
    boxes = {}
    for selector in ("#audit", "#start-title", "#result", "#phases"):
        box = await page.locator(selector).bounding_box()
        assert box is not None, selector
        boxes[selector] = box["y"]
    assert boxes["#audit"] < boxes["#start-title"]
    assert boxes["#result"] < boxes["#phases"]
    await page.screenshot(path=artifacts / "page-phone-verdict-first.png", full_page=True)
