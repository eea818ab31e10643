"""The scheduler: slots, queue, cancellation and shutdown, with real fake-worker processes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from protocol.targets import check_url
from server.api.validation import AuditRequest
from server.stores.memory import MemoryStore
from server.streaming.runner import RunnerConfig, WorkerJob, WorkerReport
from server.streaming.scheduler import Audit, Scheduler
from tests.server.harness import TARGET, service_config


def request() -> AuditRequest:
    return AuditRequest(url=TARGET, target=check_url(TARGET))


def logged_types(audit: Audit) -> list[str]:
    data, _ = audit.log.read(0, 1 << 30)
    return [line[7:].decode() for line in data.splitlines() if line.startswith(b"event: ")]


def terminal_code(audit: Audit) -> str | None:
    data, _ = audit.log.read(len(audit.log) - 1, 1 << 30)
    payload = json.loads(data.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    code = payload.get("code")
    return code if isinstance(code, str) else None


async def test_slots_limit_running_audits_and_the_queue_drains() -> None:
    scheduler = Scheduler(service_config(max_workers=2), MemoryStore())
    audits = [await scheduler.submit(request()) for _ in range(5)]
    assert (scheduler.running, scheduler.queued) == (2, 3)
    await asyncio.wait_for(_all_closed(audits), 60)
    assert all(logged_types(a)[-1] == "audit_complete" for a in audits)
    assert (scheduler.running, scheduler.queued) == (0, 0)
    await scheduler.close()


async def _all_closed(audits: list[Audit]) -> None:
    for audit in audits:
        await audit.log.wait(1 << 30)


async def test_shutdown_ends_running_and_queued_audits_as_interrupted() -> None:
    store = MemoryStore()
    config = service_config("hang", worker_options={"after": 2}, max_workers=1)
    scheduler = Scheduler(config, store)
    running = await scheduler.submit(request())
    queued = await scheduler.submit(request())
    await asyncio.wait_for(running.log.wait(3), 30)  # the worker is up and talking
    await asyncio.wait_for(scheduler.close(), 60)
    assert terminal_code(running) == "interrupted"
    assert logged_types(queued) == ["audit_queued", "audit_error"]
    assert terminal_code(queued) == "interrupted"
    for audit in (running, queued):
        record = await store.get_audit(audit.id)
        assert record is not None
        assert (record.status, record.error_code) == ("error", "interrupted")


async def test_two_deletes_at_once_give_one_terminal_event() -> None:
    scheduler = Scheduler(service_config("hang", worker_options={"after": 2}), MemoryStore())
    audit = await scheduler.submit(request())
    await asyncio.wait_for(audit.log.wait(3), 30)
    await asyncio.gather(scheduler.cancel(audit.id), scheduler.cancel(audit.id))
    assert logged_types(audit).count("audit_error") == 1
    assert terminal_code(audit) == "cancelled"
    await scheduler.close()


async def test_a_runner_that_breaks_its_contract_still_ends_the_audit() -> None:
    async def broken(job: WorkerJob, sink: Any, config: RunnerConfig) -> WorkerReport:
        raise RuntimeError("bug")

    scheduler = Scheduler(service_config(), MemoryStore(), run=broken)
    audit = await scheduler.submit(request())
    await asyncio.wait_for(audit.log.wait(1 << 30), 30)
    assert logged_types(audit) == ["audit_queued", "audit_error"]
    assert terminal_code(audit) == "crashed"
    await scheduler.close()


class RecordingHooks:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    def started(self, audit: Audit) -> None:
        self.seen.append(("started", audit.id, None))

    def finished(self, audit: Audit, report: WorkerReport | None) -> None:
        self.seen.append(("finished", audit.id, None if report is None else report.outcome))


async def test_hooks_hear_each_start_and_finish_with_the_report() -> None:
    hooks = RecordingHooks()
    scheduler = Scheduler(service_config(), MemoryStore(), hooks=hooks)
    audit = await scheduler.submit(request())
    await asyncio.wait_for(audit.log.wait(1 << 30), 30)
    assert hooks.seen == [("started", audit.id, None), ("finished", audit.id, "complete")]
    await scheduler.close()


async def test_cancel_before_the_run_began_frees_its_slot_and_ends_the_audit() -> None:
    # A deep audit: it takes a worker slot and the one browser slot.
    config = service_config("hang", worker_options={"after": 2}, max_workers=1)
    scheduler = Scheduler(config, MemoryStore())
    deep = AuditRequest(url=TARGET, target=check_url(TARGET), tier="deep_forensic")
    audit = await scheduler.submit(deep)
    assert audit.task is not None and scheduler.running == 1  # started, not yet run
    await scheduler.cancel(audit.id)  # before its task had a turn of the loop
    assert (scheduler.running, scheduler.free_slots) == (0, 1)
    assert logged_types(audit) == ["audit_queued", "audit_error"]
    assert terminal_code(audit) == "cancelled"
    after = await scheduler.submit(deep)  # the browser slot is free again
    await asyncio.wait_for(after.log.wait(2), 30)
    assert scheduler.running == 1 and scheduler.queued == 0
    await scheduler.cancel(after.id)
    await scheduler.close()
