"""The browser's own EventSource against the real server, as docs/clients.md shows it.

Run inside a blank page of the server's origin, so nothing but the browser's SSE client
is under test: named events, ids, the end of the stream, and the 204 that stops it.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from playwright.async_api import Browser

from tests.clients.service import (
    TERMINAL,
    Service,
    start_audit,
    wait_finished,
)
from tests.clients.target import serve_target

pytestmark = pytest.mark.browser

# Resolves with every event received, once the terminal one has arrived or the stream is
# closed for good; `null` ids of events missed would show as gaps in the test.
FOLLOW: Final = """
([url, types, terminal]) => new Promise((resolve) => {
  const received = [];
  const source = new EventSource(url);
  for (const type of types) {
    source.addEventListener(type, (event) => {
      received.push({ id: event.lastEventId, type });
      if (terminal.includes(type)) {
        source.close();
        resolve({ received, closedBy: "client" });
      }
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) resolve({ received, closedBy: "server" });
  };
})
"""
TYPES: Final = (
    "audit_queued", "audit_started", "ipc_fallback", "audit_complete", "audit_error",
    "hello", "phase_start", "phase_complete", "phase_error", "log_entry", "finding",
    "security_result", "site_type", "screenshot", "stats_update", "audit_result",
)  # fmt: skip


async def follow(browser: Browser, service: Service, path: str) -> dict[str, Any]:
    page = await browser.new_page()
    await page.goto(service.url("/static/style.css"))  # any page of the server's origin
    result: dict[str, Any] = await page.evaluate(
        FOLLOW, [service.url(path), list(TYPES), list(TERMINAL)]
    )
    await page.close()
    return result


async def test_browser_eventsource_receives_a_whole_audit_with_contiguous_ids(
    browser: Browser, service: Service
) -> None:
    with serve_target() as target:
        audit_id = start_audit(service, target)
        result = await follow(browser, service, f"/audits/{audit_id}/events")
    ids = [int(event["id"]) for event in result["received"]]
    assert ids == list(range(1, len(ids) + 1))
    assert result["received"][-1]["type"] in TERMINAL
    assert result["closedBy"] == "client"


async def test_browser_eventsource_resumes_after_a_position_and_stops_on_204(
    browser: Browser, service: Service
) -> None:
    with serve_target() as target:
        audit_id = start_audit(service, target)
        full = wait_finished(service, audit_id)
    middle, end = len(full) // 2, len(full)
    path = f"/audits/{audit_id}/events?last_event_id="

    rest = await follow(browser, service, path + str(middle))
    after_end = await follow(browser, service, path + str(end))

    assert [int(e["id"]) for e in rest["received"]] == list(range(middle + 1, end + 1))
    # 204: the browser's EventSource gives up at once, with nothing received.
    assert after_end == {"received": [], "closedBy": "server"}
