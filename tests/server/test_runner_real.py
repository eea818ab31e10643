"""The runner with the real auditor (`python -m veritas`) against a small site on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from protocol import exits
from protocol.events import Event
from server.streaming.runner import RunnerConfig, WorkerJob, run_worker

HOME = """<!doctype html>
<html lang="en"><head><title>Corner Bakery</title>
<meta name="description" content="Bread and pastries, baked daily."></head>
<body><h1>Corner Bakery</h1>
<p>Fresh bread every morning. <a href="/about">About us</a> - <a href="/contact">Contact</a></p>
<form action="/subscribe" method="post"><input type="email" name="email"></form>
</body></html>"""

PAGE = "<!doctype html><html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async def home(_: web.Request) -> web.Response:
        return web.Response(text=HOME, content_type="text/html")

    async def page(request: web.Request) -> web.Response:
        title = request.path.strip("/").title()
        return web.Response(text=PAGE.format(title), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("ipc", ["pipe", "stdout", "validate"])
async def test_real_auditor_streams_a_whole_audit_in_each_mode(site: str, ipc: str) -> None:
    sink = Sink()
    job = WorkerJob("real", site, "quick_scan", "simple", None, ipc, time_limit=90.0)
    report = await run_worker(job, sink, RunnerConfig(allow_private_targets=True))
    types = [e.type for e in sink.events]
    worker = [e for e in sink.events if not e.from_server]
    assert report.outcome == "complete", report.error
    assert types[0] == "audit_started"
    assert types[-1] == "audit_complete"
    assert [e.terminal for e in sink.events].count(True) == 1
    assert [e.seq for e in worker] == list(range(1, len(worker) + 1))
    assert worker[0].type == "hello"
    assert worker[0]["ipc"] == ipc
    assert worker[0]["url"] == site
    assert "audit_result" in types
    assert report.result is not None
    assert 0 <= report.result["trust_score"] <= 100
    assert report.fallbacks == ()
    assert report.channel == ("stdout" if ipc == "stdout" else "pipe")
    assert report.mismatches == 0
    assert report.duplicates == (len(worker) if ipc == "validate" else 0)


async def test_real_auditor_refusing_a_private_target_is_reported_with_its_reason(
    site: str,
) -> None:
    sink = Sink()
    job = WorkerJob("real", site, "quick_scan", "simple", None, "pipe", time_limit=90.0)
    report = await run_worker(job, sink, RunnerConfig(allow_private_targets=False))
    assert sink.events[-1].type == "audit_error"
    assert report.outcome == "no_result"
    assert report.exit_status == exits.NO_RESULT
    # The worker's own reason, which tells the user what to do, is in the message.
    assert report.error is not None
    assert report.error.startswith("the audit produced no result after reporting: ")
    assert "it is a loopback address" in report.error
    assert sink.events[-1]["error"] == report.error
