"""The deep benchmark runs once at its smallest size, so it cannot rot; no figure is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import pss

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.bench, pytest.mark.browser]


def test_deep_benchmark_audits_both_sites_and_shows_where_the_memory_is() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.deep", "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for site in ("plain", "shop"):
        row = next(line.split() for line in out.splitlines() if line.startswith(f"{site} "))
        assert row[3] == "3", out  # the audit table's row: three pages rendered
    assert "== Where the memory is at the highest peak" in out
    for kind in ("auditor", "driver", "chromium"):
        assert any(line.startswith(kind) for line in out.splitlines()), out
    assert out.count("pipe/stdout") == 3


def test_the_process_breakdown_names_this_python_and_sums_its_pss() -> None:
    procs = pss.tree(os.getpid())
    assert procs[0].pid == os.getpid()
    assert procs[0].kind == "auditor (python)"
    assert procs[0].pss > 0
    (kind, count, size), *_ = pss.by_kind(procs[:1])
    assert (kind, count, size) == ("auditor (python)", 1, procs[0].pss)
