"""Metrics: a registry per instance, the listed series, bounded labels, the text format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.api.app import create_app
from server.operations.metrics import MAX_REASONS, Metrics
from tests.protocol.sse_parser import parse
from tests.server.harness import finished, read_stream, service_config, start_audit, until

Client = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


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


# -- the wired application, with real worker processes and a real SQLite store


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client: TestClient[web.Request, web.Application]) -> dict[Any, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return scraped(await response.text())


async def counted(
    client: TestClient[web.Request, web.Application], ipc: str, outcome: str
) -> dict[Any, float]:
    """Scrape once the audit's outcome is counted (the hook runs just after the record is
    written, so the status can be visible a moment before the count)."""
    key = ("veritas_audits_total", (("ipc", ipc), ("outcome", outcome)))

    async def present() -> bool:
        return key in await scrape(client)

    await until(present)
    return await scrape(client)


async def app_client(
    aiohttp_client: Client, tmp_path: Path, behaviour: str = "normal", **overrides: Any
) -> TestClient[web.Request, web.Application]:
    config = service_config(behaviour, data_dir=tmp_path, **overrides)
    return await aiohttp_client(create_app(config))


async def test_metrics_count_a_complete_audit_its_events_batches_and_deliveries(
    aiohttp_client: Client, tmp_path: Path
) -> None:
    client = await app_client(aiohttp_client, tmp_path)
    before = await scrape(client)
    assert before.get(("veritas_audits_total", (("ipc", "pipe"), ("outcome", "complete")))) is None
    audit_id = await start_audit(client)
    stream = await read_stream(client, audit_id)
    after = await counted(client, "pipe", "complete")
    assert after[("veritas_audits_total", (("ipc", "pipe"), ("outcome", "complete")))] == 1
    assert after[("veritas_events_appended_total", ())] == len(parse(stream).messages)
    assert after[("veritas_worker_first_event_seconds_count", ())] == 1
    assert after[("veritas_store_batch_events_count", ())] >= 1
    assert (
        after[("veritas_store_batch_events_sum", ())]
        == after[("veritas_events_appended_total", ())]
    )
    assert after[("veritas_event_delivery_seconds_count", ())] >= 1
    assert after[("veritas_sse_subscribers", ())] == 0


async def test_metrics_count_a_fallback_by_reason(aiohttp_client: Client, tmp_path: Path) -> None:
    client = await app_client(aiohttp_client, tmp_path, "garbage")
    await start_audit(client)
    found = await counted(client, "pipe", "complete")
    fallbacks = {k: v for k, v in found.items() if k[0] == "veritas_ipc_fallbacks_total"}
    assert sum(fallbacks.values()) == 1
    assert found[("veritas_audits_total", (("ipc", "pipe"), ("outcome", "complete")))] == 1


async def test_metrics_count_validate_mode_mismatches(
    aiohttp_client: Client, tmp_path: Path
) -> None:
    # An early event differs, so its twin is compared long before either channel ends.
    options = {"after": 2}
    client = await app_client(aiohttp_client, tmp_path, "differ", worker_options=options)
    audit_id = await start_audit(client, ipc="validate")
    await finished(client, audit_id)
    found = await scrape(client)
    assert found[("veritas_validate_mismatches_total", ())] >= 1
    assert ("veritas_audits_total", (("ipc", "validate"), ("outcome", "complete"))) in found


async def test_gauges_follow_queue_workers_and_subscribers(
    aiohttp_client: Client, tmp_path: Path
) -> None:
    client = await app_client(aiohttp_client, tmp_path, "sleep", max_workers=1)
    first = await start_audit(client)
    second = await start_audit(client)
    response = await client.get(f"/audits/{first}/events")
    await response.content.readany()

    async def subscribed() -> bool:
        return (await scrape(client))[("veritas_sse_subscribers", ())] == 1

    await until(subscribed)
    found = await scrape(client)
    assert found[("veritas_queue_depth", ())] == 1
    assert found[("veritas_workers_running", ())] == 1
    for audit_id in (second, first):
        assert (await client.delete(f"/audits/{audit_id}")).status == 200
    response.close()
    found = await counted(client, "pipe", "cancelled")
    assert found[("veritas_queue_depth", ())] == 0
    assert found[("veritas_audits_total", (("ipc", "pipe"), ("outcome", "cancelled")))] == 2
