"""Each benchmark runs once at its smallest size, so none can rot; no timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import nchan

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.bench


def run_benchmark(*argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    done = subprocess.run(
        [sys.executable, "-m", *argv, "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_ipc_benchmark_prints_all_three_channels_and_the_goal() -> None:
    out = run_benchmark("bench.ipc")
    assert "== IPC: child process -> server event log (smoke" in out
    for system in ("pipe", "stdout", "manager"):
        assert any(line.startswith(f"{system} ") for line in out.splitlines()), out
    assert "goal pipe >= 50x manager events/s" in out


def test_fanout_benchmark_prints_ours_and_the_naive_hub_and_idle_memory() -> None:
    systems = "ours,hub,nchan" if nchan.nginx_binary() is not None else "ours,hub"
    out = run_benchmark("bench.fanout", "--systems", systems)
    assert "== SSE fan-out at" in out
    assert "== Server memory per idle SSE connection ==" in out
    rows = [line.split() for line in out.splitlines()]
    for system in systems.split(","):
        # Table rows only: the system's name, then N (notes below the table start with a name too).
        fan = [r for r in rows if r[:1] == [system] and len(r) == 11 and r[1].isdigit()]
        assert fan and all(r[-1] == "100" for r in fan), out  # every subscriber got every event
    assert "ours / hub deliveries/s" in out


def test_audits_benchmark_runs_real_audits_to_completion() -> None:
    out = run_benchmark("bench.audits")
    assert "== Audits of local sites" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("1 "))
    assert row[2] == "2/2", out  # both audits ended with audit_complete
    assert "POST /audits -> first event" in out


def test_latency_benchmark_prints_every_store_setting() -> None:
    out = run_benchmark("bench.latency")
    assert "== Worker -> client latency at 1,000 events/s" in out
    # Table rows only: eight cells (the notes below the table start with a setting too).
    rows = {r[0]: r for r in (line.split() for line in out.splitlines()) if len(r) == 8}
    for setting in ("durable", "normal", "early", "memory"):
        assert rows[setting][-1] == "100", out  # the client got every event


def test_steps_benchmark_prints_each_step_for_each_event() -> None:
    out = run_benchmark("bench.steps")
    assert "== Per-event steps" in out
    assert "to_json (orjson, checked)" in out and "to_json_reference" in out
