"""Screenshots: raw bytes from the worker, kept by the server, a reference in the stream, served.

The worker here is a small real process (written below) that sends a JPEG and a refused
image over the real pipe, as msgpack frames, or over stdout as JSON lines.
"""

from __future__ import annotations

import base64
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from protocol.events import new_event
from server.api.app import create_app
from server.stores.screenshots import ScreenshotLimits, ScreenshotStore
from tests.server.harness import event_data, messages, read_stream, service_config, start_audit

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"

WORKER = """
import argparse, os, sys, time
from protocol.events import new_event
from protocol.framing import encode_frame
from protocol.jsonlines import encode_line

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--tier"); parser.add_argument("--verdict-mode")
parser.add_argument("--ipc"); parser.add_argument("--ipc-fd", type=int)
args, _ = parser.parse_known_args()
jpeg = bytes.fromhex({jpeg!r})
events = [
    new_event("hello", 1, pid=os.getpid(), ipc=args.ipc, tier=args.tier, url=args.url),
    new_event("screenshot", 2, index=1, label="page 1", url=args.url, mime="image/jpeg", data=jpeg),
    new_event("screenshot", 3, index=2, label="odd", url=args.url, mime="text/html", data=b"<b>"),
    new_event("audit_result", 4, result={{"trust_score": 50, "risk_level": "low", "findings": []}}),
]
for event in events:
    if args.ipc == "pipe":
        os.write(args.ipc_fd, encode_frame(event))
    else:
        os.write(1, encode_line(event))
"""


@pytest.fixture
def worker(tmp_path: Path) -> tuple[str, ...]:
    path = tmp_path / "shot_worker.py"
    path.write_text(textwrap.dedent(WORKER.format(jpeg=JPEG.hex())))
    return (sys.executable, str(path))


async def shots_of(client: TestClient, audit_id: str) -> list[dict[str, Any]]:
    found = messages(await read_stream(client, audit_id))
    return [event_data(m) for m in found if m.type == "screenshot"]


@pytest.mark.parametrize("ipc", ["pipe", "stdout"])
async def test_the_stream_names_the_screenshot_and_its_route_serves_the_bytes(
    aiohttp_client: Any, worker: tuple[str, ...], ipc: str
) -> None:
    config = replace(service_config(), worker_command=worker, ipc_mode=ipc)
    client = await aiohttp_client(create_app(config))
    audit_id = await start_audit(client)
    first, odd = await shots_of(client, audit_id)
    assert first["src"] == f"/audits/{audit_id}/screenshots/1"
    assert (first["data_b64"], first["bytes"], first["label"]) == ("", len(JPEG), "page 1")
    response = await client.get(first["src"])
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.read() == JPEG
    assert "src" not in odd and odd["data_b64"] == ""  # not an image: neither kept nor served
    assert (await client.get(f"/audits/{audit_id}/screenshots/2")).status == 404


async def test_screenshots_of_an_on_disk_server_are_served_after_a_restart(
    aiohttp_client: Any, worker: tuple[str, ...], tmp_path: Path
) -> None:
    config = replace(service_config(), worker_command=worker, data_dir=tmp_path / "data")
    first = await aiohttp_client(create_app(config))
    audit_id = await start_audit(first)
    (shot_event, _) = await shots_of(first, audit_id)
    await first.close()
    restarted = await aiohttp_client(create_app(config))  # same data directory, new memory
    response = await restarted.get(shot_event["src"])
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "image/jpeg"
    assert await response.read() == JPEG
    report = await restarted.get(f"/audits/{audit_id}/report")
    assert report.status == 200, await report.text()
    assert base64.b64encode(JPEG).decode() in await report.text()  # inline, from the disk


async def test_unknown_screenshots_and_bad_numbers_are_404(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(service_config()))
    audit_id = await start_audit(client)
    for path in (f"/audits/{audit_id}/screenshots/7", f"/audits/{audit_id}/screenshots/x1"):
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


def shot(index: int, size: int, mime: str = "image/jpeg") -> Any:
    data = b"\xff" * size
    return new_event("screenshot", index, index=index, label="l", url="u", mime=mime, data=data)


def test_the_store_drops_the_oldest_audits_past_its_byte_bound() -> None:
    store = ScreenshotStore(ScreenshotLimits(max_image_bytes=100, max_total_bytes=250))
    for audit in ("a", "b", "c"):
        store.keep(audit, shot(1, 100))
    assert store.get("a", 1) is None
    assert store.get("b", 1) is not None and store.get("c", 1) is not None


async def test_images_let_go_from_memory_are_read_back_from_disk_until_forgotten(
    tmp_path: Path,
) -> None:
    limits = ScreenshotLimits(max_image_bytes=100, max_total_bytes=150)
    store = ScreenshotStore(limits, directory=tmp_path)
    for audit in ("a", "b"):
        store.keep(audit, shot(1, 100))
    assert store.get("a", 1) is None  # gone from memory
    kept = await store.load("a", 1)
    assert kept is not None and kept.data == b"\xff" * 100 and kept.mime == "image/jpeg"
    store.forget(["a"])
    assert await store.load("a", 1) is None and not (tmp_path / "a").exists()
    assert await store.load("b", 1) is not None


def test_the_store_refuses_oversized_repeated_and_excess_images() -> None:
    store = ScreenshotStore(ScreenshotLimits(max_image_bytes=100, max_per_audit=2))
    assert "src" in store.keep("a", shot(1, 100)).fields
    assert "src" not in store.keep("a", shot(2, 101)).fields  # too big
    assert "src" not in store.keep("a", shot(1, 10)).fields  # index already taken
    assert "src" in store.keep("a", shot(3, 10)).fields
    assert "src" not in store.keep("a", shot(4, 10)).fields  # third image of the audit
    assert store.dropped == 3


# Notes the audit's state when each screenshot is added to the live page (see
# tests/browser/test_page.py: observers run before the next event is dispatched).
SHOT_RECORDER = """
window.__shotStates = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.classList.contains("shot")) {
        window.__shotStates.push(document.getElementById("audit-state").dataset.state);
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""
IMAGE_LOADED = """() => {
  const images = Array.from(document.querySelectorAll("figure.shot img"));
  return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""


@pytest.mark.browser
async def test_the_live_page_shows_a_deep_audits_screenshots_as_they_arrive(
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    from tests.clients.service import run_service
    from tests.veritas.browser.site import SiteState, serve_site
    from veritas.browser import BrowserSettings

    executable = BrowserSettings().chromium_path()
    assert executable is not None, "Chromium is not installed (scripts/install-test-deps.sh)"
    env = {"VERITAS_BROWSER_SLOT_WAIT": "60", "VERITAS_BROWSER_PAGES": "1"}
    with serve_site(SiteState()) as port, run_service(tmp_path / "server", env) as service:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = await browser.new_page()
                await page.add_init_script(SHOT_RECORDER)
                await page.goto(service.base + "/")
                await page.fill("#url", f"http://127.0.0.1:{port}/consent")
                await page.select_option("#tier", "deep_forensic")
                await page.click("#start")
                await page.wait_for_function(IMAGE_LOADED, timeout=90_000)
                sources = await page.eval_on_selector_all(
                    "figure.shot img", "(images) => images.map((i) => i.getAttribute('src'))"
                )
                states = await page.evaluate("window.__shotStates")
            finally:
                await browser.close()
    assert sources and all(s.startswith("/audits/") for s in sources)
    assert "/screenshots/1" in sources[0]
    assert states[0] == "running"  # shown while the audit was still going
