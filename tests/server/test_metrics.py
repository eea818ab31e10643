"""Metrics: a registry per instance, the listed series, bounded labels, the text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from server.metrics import MAX_REASONS, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_finished_audit_counts_mode_outcome_fallbacks_mismatches_latency() -> None:
    metrics = Metrics()
    metrics.audit_finished(
        ipc="validate",
        outcome="complete",
        fallbacks=("bad frame from the worker: length 99999999 over the limit",),
        mismatches=3,
        first_event_latency=0.03,
    )
    metrics.audit_finished(ipc="pipe", outcome="crashed")
    found = samples(metrics)
    assert found[("veritas_audits_total", (("ipc", "validate"), ("outcome", "complete")))] == 1
    assert found[("veritas_audits_total", (("ipc", "pipe"), ("outcome", "crashed")))] == 1
    reason = (("reason", "bad frame from the worker"),)
    assert found[("veritas_ipc_fallbacks_total", reason)] == 1
    assert found[("veritas_validate_mismatches_total", ())] == 3
    assert found[("veritas_worker_first_event_seconds_count", ())] == 1
    assert found[("veritas_worker_first_event_seconds_bucket", (("le", "0.05"),))] == 1


def test_two_instances_count_separately() -> None:
    first, second = Metrics(), Metrics()
    first.event_appended(5)
    assert samples(first)[("veritas_events_appended_total", ())] == 5
    assert samples(second)[("veritas_events_appended_total", ())] == 0


def test_subscribers_gauge_follows_open_streams() -> None:
    metrics = Metrics()
    with metrics.subscriber(), metrics.subscriber():
        assert samples(metrics)[("veritas_sse_subscribers", ())] == 2
    assert samples(metrics)[("veritas_sse_subscribers", ())] == 0


def test_watched_gauges_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    depth = [3]
    metrics.watch(queue_depth=lambda: depth[0], workers=lambda: 2, store_dropped=lambda: 0)
    assert samples(metrics)[("veritas_queue_depth", ())] == 3
    depth[0] = 7
    assert samples(metrics)[("veritas_queue_depth", ())] == 7
    assert samples(metrics)[("veritas_workers_running", ())] == 2


def test_histograms_of_delivery_and_store_batches() -> None:
    metrics = Metrics()
    metrics.delivered(0.0004)
    metrics.store_batch(40)
    metrics.store_batch(3)
    found = samples(metrics)
    assert found[("veritas_event_delivery_seconds_count", ())] == 1
    assert found[("veritas_store_batch_events_count", ())] == 2
    assert found[("veritas_store_batch_events_sum", ())] == 43


def test_fallback_reason_labels_are_bounded() -> None:
    metrics = Metrics()
    labels = {metrics.reason_label(f"reason {n}: detail {n}") for n in range(MAX_REASONS * 3)}
    assert len(labels) == MAX_REASONS + 1
    assert "other" in labels
    assert metrics.reason_label("reason 0: other detail") == "reason 0"
