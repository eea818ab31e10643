"""The browser budget: deep audits hold `max_browsers` slots, and quick audits pass them by."""

from __future__ import annotations

import asyncio

from protocol.targets import check_url
from server.api.validation import AuditRequest
from server.stores.memory import MemoryStore
from server.streaming.scheduler import Scheduler
from tests.server.harness import TARGET, service_config


def request(tier: str) -> AuditRequest:
    return AuditRequest(url=TARGET, target=check_url(TARGET), tier=tier)


async def test_a_quick_audit_starts_while_a_deep_one_waits_for_the_browser() -> None:
    config = service_config("hang", worker_options={"after": 2}, max_workers=3, max_browsers=1)
    scheduler = Scheduler(config, MemoryStore())
    first = await scheduler.submit(request("deep_forensic"))
    second = await scheduler.submit(request("deep_forensic"))
    quick = await scheduler.submit(request("quick_scan"))
    assert (scheduler.running, scheduler.queued) == (2, 1)
    assert first.task is not None and quick.task is not None and second.task is None
    await asyncio.wait_for(first.log.wait(3), 30)  # its worker is up and talking
    await scheduler.cancel(first.id)
    assert second.task is not None  # the browser slot came free
    await asyncio.wait_for(scheduler.close(), 60)
