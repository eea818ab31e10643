"""The scheduler: audits queued, started in worker slots, cancelled, finished; owner of their tasks.

    queued --(a slot frees)--> running --(run_worker returns)--> complete | error
       \\--(DELETE)--> error (cancelled)        \\--(DELETE: worker cancelled)--> error (cancelled)

Each audit has one `AuditLog`. The runner appends to it through an `AuditSink` (a read's
worth of events at a time), which holds the terminal event back for `AuditLog.finish`;
the log shows nothing to subscribers before the store has committed it. The runner
tasks belong to the scheduler: `close()` cancels and awaits every one of them.

A store that has failed (`Store.failure`) makes the service refuse new audits with 503
(`store_unavailable`); running audits go on to their end, but their logs stop showing
events, since none can be made durable.

`AuditHooks` is the one place that hears of audits starting and finishing (metrics).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from protocol.events import Event, new_event
from server.api.validation import AuditRequest
from server.config import ServerConfig
from server.errors import ApiError, QueueFull
from server.operations.logs import audit_context
from server.stores.errors import StoreError, StoreRefused
from server.stores.screenshots import ScreenshotStore
from server.stores.store import AuditRecord, Store
from server.streaming.log import AuditLog
from server.streaming.runner import (
    RunnerConfig,
    WorkerJob,
    WorkerReport,
    choose_ipc_mode,
    run_worker,
)

logger: Final = logging.getLogger("server.streaming.scheduler")

BROWSER_TIER: Final = "deep_forensic"  # the tier whose audits drive a browser
RunWorker = Callable[[WorkerJob, Any, RunnerConfig], Coroutine[Any, Any, WorkerReport]]


class AuditHooks(Protocol):
    def started(self, audit: Audit) -> None: ...
    def finished(self, audit: Audit, report: WorkerReport | None) -> None:
        """`report` is None when the audit never ran or its run was cancelled."""


class SharedQueue(Protocol):
    """The work queue of a shared store: new audits go there, for any instance to run."""

    async def offer(self, audit: Audit) -> None: ...
    async def depth(self) -> int:
        """Audits waiting in it, counted across instances."""


class NoHooks:
    def started(self, audit: Audit) -> None:
        return None

    def finished(self, audit: Audit, report: WorkerReport | None) -> None:
        return None


def new_audit_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(slots=True, eq=False)
class Audit:
    """One audit in memory: its record as last written, its log, its tasks while it runs.

    `task` runs the whole audit, finish included, and is never cancelled once its worker
    runs: stopping an audit cancels `worker` (the runner), so the terminal event and the
    record are always written.
    """

    record: AuditRecord
    log: AuditLog
    task: asyncio.Task[None] | None = None
    worker: asyncio.Task[WorkerReport] | None = None
    stopping: bool = False
    # The request's network options, passed to the worker; kept in memory only, since an
    # audit that did not finish is never run again.
    connect_to: tuple[str, ...] = ()
    ca_pem: str | None = None

    def stop(self) -> None:
        """Ask the audit's run to end (it ends with `cancelled`); its task says when it has.

        Only the worker is ever cancelled, never the task: a task cancelled before its
        first turn of the loop would never run its body, so its slot would stay counted
        and its audit would never end. A run not yet at its worker sees `stopping` and
        ends without starting one."""
        if self.stopping:
            return  # a second cancel would interrupt the runner's own cleanup
        self.stopping = True
        if self.worker is not None:
            self.worker.cancel()

    @property
    def id(self) -> str:
        return self.record.id


class AuditSink:
    """What the runner appends to: the log, with the terminal event held for `finish`."""

    def __init__(self, audit: Audit, screenshots: ScreenshotStore | None = None) -> None:
        self.audit = audit
        self.screenshots = screenshots  # takes the images out: the log keeps a reference
        self.terminal: Event | None = None
        self.result: Mapping[str, Any] | None = None

    def append(self, event: Event) -> None:
        self.extend((event,))

    def extend(self, events: Iterable[Event]) -> None:
        batch = [self._kept(event) for event in events if not self._held_back(event)]
        if batch and not self.audit.log.ended:
            self.audit.log.extend(batch)

    def _kept(self, event: Event) -> Event:
        """The event as the log keeps it: a screenshot's image goes to its own store."""
        if event.type == "screenshot" and self.screenshots is not None:
            return self.screenshots.keep(self.audit.id, event)
        return event

    def _held_back(self, event: Event) -> bool:
        if event.terminal:
            if self.terminal is None:
                self.terminal = event
            else:
                logger.error("audit %s: second terminal event dropped", self.audit.id)
            return True
        if event.type == "audit_result":
            self.result = event["result"]
        return False


class Scheduler:
    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        *,
        hooks: AuditHooks | None = None,
        run: RunWorker = run_worker,
        rng: random.Random | None = None,
        screenshots: ScreenshotStore | None = None,
    ) -> None:
        self.config = config
        self.runner_config = config.runner
        self.store = store
        self.hooks: AuditHooks = hooks or NoHooks()
        self._run_worker = run
        self.screenshots = screenshots
        self._rng = rng or random.Random()
        self._live: dict[str, Audit] = {}  # queued or running
        self._finished: OrderedDict[str, Audit] = OrderedDict()  # recent, bounded
        self._queue: deque[Audit] = deque()
        self._reserved = 0  # submissions between the capacity check and the queue
        self._running = 0
        self._browsers = 0  # running deep audits, each with its browser
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.share: SharedQueue | None = None

    # -- queries --------------------------------------------------------------------------

    def get(self, audit_id: str) -> Audit | None:
        return self._live.get(audit_id) or self._finished.get(audit_id)

    def live_ids(self) -> list[str]:
        """The audits queued or running here."""
        return list(self._live)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def running(self) -> int:
        return self._running

    # -- submit and cancel ----------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why the service cannot take audits now (its store has failed), or None."""
        return self.store.failure

    async def submit(self, request: AuditRequest) -> Audit:
        """Queue a new audit (and start it if a slot is free); `QueueFull` past the limit."""
        if self._closing:
            raise ApiError(503, "shutting_down", "the server is shutting down")
        self._refuse_if_failed()
        await self._refuse_if_full()
        self._reserved += 1
        try:
            audit = await self._create(request)
        except StoreRefused as exc:
            raise ApiError(400, "invalid", f"the request cannot be stored: {exc}") from exc
        except StoreError as exc:
            logger.error("a new audit could not be stored: %s", exc)
            self._refuse_if_failed()
            raise ApiError(
                503, "store_unavailable", f"the audit could not be stored: {exc}"
            ) from exc
        finally:
            self._reserved -= 1
        if self.share is not None:
            await self.share.offer(audit)
            return audit
        self.adopt(audit)
        return audit

    async def _refuse_if_full(self) -> None:
        """`QueueFull` when `max_queued` audits wait: in this instance's queue, or in the
        shared queue of all instances (counted before this audit is created, so requests
        accepted at once on several instances can pass the limit by as many)."""
        if self.share is not None:
            try:
                waiting = await self.share.depth() + self._reserved
            except StoreError as exc:
                raise ApiError(503, "store_unavailable", f"the queue cannot answer: {exc}") from exc
            if waiting >= self.config.max_queued:
                raise QueueFull(self.config.retry_after)
            return
        free_slot = self._running + len(self._queue) + self._reserved < self.config.max_workers
        if not free_slot and len(self._queue) + self._reserved >= self.config.max_queued:
            raise QueueFull(self.config.retry_after)

    def adopt(self, audit: Audit) -> None:
        """Queue an audit to run here (a new one, or one claimed from a shared queue)."""
        self._live[audit.id] = audit
        self._queue.append(audit)
        self._pump()

    @property
    def free_slots(self) -> int:
        return self.config.max_workers - self._running - len(self._queue)

    async def _create(self, request: AuditRequest) -> Audit:
        ipc = choose_ipc_mode(request.ipc, self.config.ipc_mode, self.config.ipc_rollout, self._rng)
        record = AuditRecord(
            id=new_audit_id(),
            url=request.url,
            tier=request.tier,
            verdict_mode=request.verdict_mode,
            security_modules=request.security_modules,
            ipc=ipc,
            status="queued",
            created_at=time.time(),
        )
        await self.store.create_audit(record)
        log = AuditLog(
            record.id,
            self.config.log_limits,
            self.store,
            durable_visibility=self.config.durable_visibility,
        )
        audit = Audit(record, log)
        audit.connect_to = tuple(str(rule) for rule in request.connect_to)
        audit.ca_pem = request.ca_pem
        queued = new_event(
            "audit_queued", 0, audit_id=record.id, url=record.url, tier=record.tier, ipc=ipc
        )
        audit.log.append(queued)
        return audit

    def _refuse_if_failed(self) -> None:
        if self.store.failure is not None:
            raise ApiError(
                503,
                "store_unavailable",
                f"the event store has failed, no audit can be kept: {self.store.failure}",
                headers={"Retry-After": str(self.config.retry_after)},
            )

    async def cancel(self, audit_id: str) -> Audit | None:
        """Stop an audit: dequeue it, or cancel its run and wait until its worker is gone."""
        audit = self._live.get(audit_id)
        if audit is None:
            return None
        if audit in self._queue:
            self._queue.remove(audit)
            await self._finish(audit, AuditSink(audit), None, "cancelled before it started")
        elif audit.task is not None:
            audit.stop()
            await asyncio.wait({audit.task})
        return audit

    # -- running --------------------------------------------------------------------------

    def _pump(self) -> None:
        while self._running < self.config.max_workers and not self._closing:
            audit = self._next_startable()
            if audit is None:
                return
            self._running += 1
            self._browsers += audit.record.tier == BROWSER_TIER
            with audit_context(audit.id):  # the task's log records carry the audit id
                audit.task = asyncio.create_task(self._run(audit), name=f"audit {audit.id}")
            self._tasks.add(audit.task)
            audit.task.add_done_callback(self._tasks.discard)

    def _next_startable(self) -> Audit | None:
        """The oldest queued audit that can start: a deep one only with a browser slot free,
        so quick audits pass deep ones waiting for a browser instead of queueing behind them."""
        browser_free = self._browsers < self.config.max_browsers
        for audit in self._queue:
            if browser_free or audit.record.tier != BROWSER_TIER:
                self._queue.remove(audit)
                return audit
        return None

    async def _run(self, audit: Audit) -> None:
        sink = AuditSink(audit, self.screenshots)
        report: WorkerReport | None = None
        try:
            await self._update(audit, status="running", started_at=time.time())
            self.hooks.started(audit)
            if not audit.stopping:  # cancelled while its record was written
                report = await self._supervise(audit, sink)
        finally:
            self._running -= 1
            self._browsers -= audit.record.tier == BROWSER_TIER
            await self._finish(audit, sink, report, "cancelled")
            self._pump()

    async def _supervise(self, audit: Audit, sink: AuditSink) -> WorkerReport | None:
        """Run the worker in a task of its own, so cancelling it leaves this one to finish."""
        audit.worker = worker = asyncio.create_task(
            self._run_worker(self._job(audit), sink, self.runner_config)
        )
        try:
            await asyncio.wait({worker})
        except asyncio.CancelledError:
            worker.cancel()
            await asyncio.wait({worker})
            raise
        if worker.cancelled():
            return None
        if worker.exception() is not None:  # its contract says never; still, end the audit
            logger.error("audit %s: the runner failed", audit.id, exc_info=worker.exception())
            sink.append(new_event("audit_error", 0, error="the runner failed", code="crashed"))
            return None
        return worker.result()

    def _job(self, audit: Audit) -> WorkerJob:
        record = audit.record
        return WorkerJob(
            audit_id=record.id,
            url=record.url,
            tier=record.tier,
            verdict_mode=record.verdict_mode,
            security_modules=record.security_modules,
            ipc=record.ipc,
            time_limit=self.config.time_limit(record.tier),
            connect_to=audit.connect_to,
            ca_pem=audit.ca_pem,
        )

    async def _finish(
        self, audit: Audit, sink: AuditSink, report: WorkerReport | None, why: str
    ) -> None:
        """Flush, then show the terminal event and record the outcome: exactly once."""
        terminal = self._terminal(sink, why)
        changes = _outcome(terminal, sink.result)
        audit.record = replace(audit.record, **changes)
        # Counted before anyone can see the outcome, so a client that saw it finish and
        # then reads /metrics finds it counted.
        self.hooks.finished(audit, report)
        try:
            await audit.log.finish(terminal)  # durable before any subscriber sees it
        except StoreError as exc:
            logger.error("audit %s: its end could not be stored: %s", audit.id, exc)
        self._retire(audit)
        if self.store.failure is None:
            await self._store_changes(audit, changes)

    def _terminal(self, sink: AuditSink, why: str) -> Event:
        terminal = sink.terminal or new_event("audit_error", 0, error=why, code="cancelled")
        if self._closing and terminal.get("code") == "cancelled":
            # Stopped by a shutdown, not by a client: say so.
            return new_event("audit_error", 0, error="the server stopped", code="interrupted")
        return terminal

    def forget(self, audit_id: str) -> None:
        """Drop a finished audit from memory: the store holds its truth (another instance
        of a shared store took it over), so requests read it from there."""
        self._finished.pop(audit_id, None)

    def _retire(self, audit: Audit) -> None:
        self._live.pop(audit.id, None)
        self._finished[audit.id] = audit
        while len(self._finished) > self.config.max_finished_logs:
            self._finished.popitem(last=False)  # still in the store

    async def _update(self, audit: Audit, **changes: Any) -> None:
        audit.record = replace(audit.record, **changes)
        await self._store_changes(audit, changes)

    async def _store_changes(self, audit: Audit, changes: Mapping[str, Any]) -> None:
        try:
            await self.store.update_audit(audit.id, **changes)
        except StoreError as exc:  # the store is down: the audit runs on, reported unhealthy
            logger.error("audit %s: its record could not be stored: %s", audit.id, exc)

    # -- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every audit: queued ones and running ones end with `interrupted`."""
        self._closing = True
        while self._queue:
            audit = self._queue.popleft()
            sink = AuditSink(audit)
            sink.terminal = new_event(
                "audit_error", 0, error="the server stopped", code="interrupted"
            )
            await self._finish(audit, sink, None, "the server stopped")
        tasks = set(self._tasks)
        for audit in [a for a in self._live.values() if a.task in tasks]:
            audit.stop()
        if tasks:
            await asyncio.wait(tasks)


def _outcome(terminal: Event, result: Mapping[str, Any] | None) -> dict[str, Any]:
    changes: dict[str, Any] = {"finished_at": time.time()}
    if terminal.type == "audit_complete":
        changes["status"] = "complete"
    else:
        changes.update(status="error", error_code=terminal["code"], error=terminal["error"])
    if result is not None:
        changes.update(
            result=result,
            trust_score=result.get("trust_score"),
            risk_level=result.get("risk_level"),
        )
    return changes
