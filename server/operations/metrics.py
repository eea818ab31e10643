"""The server's Prometheus metrics, in a registry of their own, rendered for `GET /metrics`.

Each `Metrics` owns its `CollectorRegistry` (not the process-global one), so several
applications in one process, as in tests, count separately. Label values come from
bounded sets: fallback reasons are free text from the runner, so they are cut to their
first clause and capped to `MAX_REASONS` distinct values, the rest counted as `other`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from server.stores.store import AuditRecord, AuditStatus, CommitListener, Store, StoredEvent

if TYPE_CHECKING:
    from server.streaming.runner import WorkerReport
    from server.streaming.scheduler import Audit

MAX_REASONS: Final = 16
MAX_REASON_LENGTH: Final = 60
CONTENT_TYPE: Final[str] = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DELIVERY_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    5.0,
)
_BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """What one instance of a cluster last said of itself."""

    running: int  # audits running in its worker slots
    slots: int  # its worker slots (max_workers)
    leases: int  # audits whose lease it holds (running, or accepted and waiting in the queue)


@dataclass(frozen=True, slots=True)
class ClusterView:
    """The cluster as read from the shared store, by any instance."""

    queue_depth: int = 0  # audits waiting in the shared queue
    instances: dict[str, InstanceReport] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # reclaimed, requeued, fenced


_CLUSTER_COUNTS: Final = {
    "reclaimed": "Audits of silent instances closed or queued again by a reaper",
    "requeued": "Audits of silent instances queued again (on_lost=requeue)",
    "fenced": "Audits an instance found taken over while it ran them",
}


class ClusterCollector:
    """The cluster's gauges and counters, from the last `ClusterView` (refreshed by the
    cluster's reporter, not at scrape time: a scrape never waits for Redis). Instances come
    and go, so the families are built afresh for each scrape: no label outlives its instance."""

    def __init__(self) -> None:
        self.view: ClusterView | None = None

    def update(self, view: ClusterView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        view = self.view
        if view is None:
            return
        yield GaugeMetricFamily(
            "veritas_cluster_queue_depth", "Audits waiting in the shared queue", view.queue_depth
        )
        yield GaugeMetricFamily(
            "veritas_cluster_instances", "Instances that reported lately", len(view.instances)
        )
        for name, text in (
            ("running", "Audits running, by instance"),
            ("slots", "Worker slots, by instance"),
            ("leases", "Audit leases held, by instance"),
        ):
            family = GaugeMetricFamily(f"veritas_cluster_{name}", text, labels=["instance"])
            for instance, report in sorted(view.instances.items()):
                family.add_metric([instance], getattr(report, name))
            yield family
        for name, text in _CLUSTER_COUNTS.items():
            yield CounterMetricFamily(f"veritas_cluster_{name}", text, view.counts.get(name, 0))


class Metrics:
    """Counters, gauges and histograms of one server; the app calls the methods at its hooks."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reasons: set[str] = set()
        r = self.registry
        self.audits = Counter(
            "veritas_audits",
            "Audits finished, by ipc mode and outcome",
            ["ipc", "outcome"],
            registry=r,
        )
        self.fallbacks = Counter(
            "veritas_ipc_fallbacks",
            "Fallbacks from the pipe to stdout, by reason",
            ["reason"],
            registry=r,
        )
        self.mismatches = Counter(
            "veritas_validate_mismatches",
            "Events that differed between the two channels in validate mode",
            registry=r,
        )
        self.events = Counter(
            "veritas_events_appended", "Events appended to audit logs", registry=r
        )
        self.subscribers = Gauge(
            "veritas_sse_subscribers", "Event streams open right now", registry=r
        )
        self.queue_depth = Gauge("veritas_queue_depth", "Audits waiting for a worker", registry=r)
        self.workers = Gauge("veritas_workers_running", "Worker processes running", registry=r)
        self.first_event = Histogram(
            "veritas_worker_first_event_seconds",
            "From spawning a worker to its first accepted event",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery = Histogram(
            "veritas_event_delivery_seconds",
            "From an event's append to the log to its write to a subscriber",
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.batches = Histogram(
            "veritas_store_batch_events",
            "Events per committed store batch",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.store_dropped = Gauge(
            "veritas_store_events_dropped",
            "Events not persisted since start because the store backlog was full",
            registry=r,
        )
        self.pruned = Counter("veritas_audits_pruned", "Audits deleted by retention", registry=r)
        self.cluster = ClusterCollector()  # shown once a shared store's reporter has a view
        r.register(self.cluster)

    def audit_finished(
        self,
        *,
        ipc: str,
        outcome: str,
        fallbacks: Sequence[str] = (),
        mismatches: int = 0,
        first_event_latency: float | None = None,
    ) -> None:
        self.audits.labels(ipc=ipc, outcome=outcome).inc()
        for reason in fallbacks:
            self.fallbacks.labels(reason=self.reason_label(reason)).inc()
        if mismatches:
            self.mismatches.inc(mismatches)
        if first_event_latency is not None:
            self.first_event.observe(first_event_latency)

    def watch(
        self,
        *,
        queue_depth: Callable[[], float] | None = None,
        workers: Callable[[], float] | None = None,
        store_dropped: Callable[[], float] | None = None,
        subscribers: Callable[[], float] | None = None,
    ) -> None:
        """Read these gauges from their owners at scrape time instead of tracking each change."""
        for gauge, read in (
            (self.queue_depth, queue_depth),
            (self.workers, workers),
            (self.store_dropped, store_dropped),
            (self.subscribers, subscribers),
        ):
            if read is not None:
                gauge.set_function(read)

    def event_appended(self, count: int = 1) -> None:
        self.events.inc(count)

    @contextmanager
    def subscriber(self) -> Iterator[None]:
        """Counts an open event stream for as long as the block runs."""
        self.subscribers.inc()
        try:
            yield
        finally:
            self.subscribers.dec()

    def delivered(self, seconds: float) -> None:
        self.delivery.observe(max(seconds, 0.0))

    def store_batch(self, events: int) -> None:
        self.batches.observe(events)

    def reason_label(self, reason: str) -> str:
        """A bounded label for a free-text reason: its first clause, from a capped set."""
        label = reason.split(":", 1)[0].strip().lower()[:MAX_REASON_LENGTH] or "unknown"
        if label in self._reasons:
            return label
        if len(self._reasons) >= MAX_REASONS:
            return "other"
        self._reasons.add(label)
        return label

    def render(self) -> bytes:
        """The text exposition format, for `GET /metrics` (content type `CONTENT_TYPE`)."""
        return bytes(generate_latest(self.registry))


class MetricsHooks:
    """The scheduler's `AuditHooks`: counts each finished audit by mode and outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def started(self, audit: Audit) -> None:
        return None

    def finished(self, audit: Audit, report: WorkerReport | None) -> None:
        record = audit.record
        if report is None:
            outcome = record.error_code or record.status
            self.metrics.audit_finished(ipc=record.ipc, outcome=outcome)
            return
        self.metrics.audit_finished(
            ipc=record.ipc,
            outcome=record.error_code or report.outcome,
            fallbacks=report.fallbacks,
            mismatches=report.mismatches,
            first_event_latency=report.first_event_latency,
        )


class MeteredStore:
    """A `Store` that counts every event appended, in front of the real one."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.inner = store
        self.metrics = metrics

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def create_audit(self, record: AuditRecord) -> None:
        await self.inner.create_audit(record)

    async def update_audit(self, audit_id: str, **changes: Any) -> None:
        await self.inner.update_audit(audit_id, **changes)

    @property
    def failure(self) -> str | None:
        return self.inner.failure

    def append_events(
        self,
        audit_id: str,
        events: Sequence[StoredEvent],
        listener: CommitListener | None = None,
    ) -> bool:
        accepted = self.inner.append_events(audit_id, events, listener)
        if accepted:
            self.metrics.event_appended(len(events))
        return accepted

    def append_event(self, audit_id: str, event: StoredEvent) -> None:
        self.inner.append_event(audit_id, event)
        self.metrics.event_appended()

    async def flush(self) -> None:
        await self.inner.flush()

    async def get_audit(self, audit_id: str) -> AuditRecord | None:
        return await self.inner.get_audit(audit_id)

    async def list_audits(
        self, *, status: AuditStatus | None, limit: int, before: str | None
    ) -> Sequence[AuditRecord]:
        return await self.inner.list_audits(status=status, limit=limit, before=before)

    async def load_events(self, audit_id: str, after: int = 0) -> Sequence[StoredEvent]:
        return await self.inner.load_events(audit_id, after)

    async def unfinished(self) -> Sequence[AuditRecord]:
        return await self.inner.unfinished()
