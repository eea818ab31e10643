"""The shared-store benchmark runs once at its smallest size, so it cannot rot; no timing."""

from __future__ import annotations

import pytest

from tests.bench.test_bench_smoke import run_benchmark

pytestmark = pytest.mark.bench


def test_redis_benchmark_prints_appends_and_latency_for_both_stores() -> None:
    out = run_benchmark("bench.redis")
    assert "== Appends into Redis from one instance" in out
    assert "== Worker -> client latency at 1,000 events/s" in out
    table = out.split("== Worker -> client latency")[1]
    assert "\nsqlite " in table and "\nredis " in table


def test_cluster_benchmark_prints_fan_out_over_one_and_two_instances() -> None:
    out = run_benchmark("bench.cluster")
    table = out.split("== SSE fan-out over instances on one Redis")[1]
    assert "\none " in table and "\ntwo " in table
