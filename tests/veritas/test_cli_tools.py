"""The flags around an audit: reports, the score gate, help and version, how a URL is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from protocol import exits
from tests.veritas.worker import worker_env
from veritas.config import SECURITY_MODULE_NAMES, load_config


def veritas(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "veritas", *args],
        capture_output=True,
        env=worker_env(),
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_help_and_version_go_to_stdout_with_status_0(flag: str) -> None:
    proc = veritas(flag)
    assert proc.returncode == 0
    assert proc.stderr == b""
    assert (b"usage: veritas" if flag != "--version" else b"veritas ") in proc.stdout


def test_a_bare_host_is_read_as_https_and_the_notice_says_so() -> None:
    config = load_config(["example.org"], {}, SECURITY_MODULE_NAMES)
    assert config.url == "https://example.org/"
    assert config.run.notice == "reading 'example.org' as https://example.org/"
    assert load_config(["example.org/a?b"], {}, SECURITY_MODULE_NAMES).url == (
        "https://example.org/a?b"
    )
    assert load_config(["http://example.org/"], {}, SECURITY_MODULE_NAMES).run.notice is None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-o", "{tmp}/missing/dir/report.html"], "cannot be written"),
        (["-o", "{tmp}"], "is a directory"),
        (["--report", "html"], "--report html needs -o FILE"),
        (["--fail-under", "101"], "--fail-under must be a score from 0 to 100"),
        (["--watch", "abc"], "--watch needs --server BASE"),
        (["--server", "ftp://x"], "--server must be an http(s) URL"),
    ],
)
def test_an_output_or_gate_mistake_fails_before_the_audit_in_one_line(
    args: list[str], says: str, tmp_path: Path
) -> None:
    # The target is never contacted: the address is one no test serves.
    proc = veritas("http://127.0.0.1:9/", *[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == exits.USAGE
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert says in lines[0]
    assert proc.stdout == b""
    assert list(tmp_path.iterdir()) == []


def test_fail_under_exits_5_and_writes_the_html_report(site_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    proc = veritas(
        site_url + "/", "--tier", "quick_scan", "--fail-under", "100", "--report", "html",
        "-o", str(report), "--json",
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["trust_score"] < 100  # a plain-http site never scores 100
    assert proc.returncode == exits.BELOW_THRESHOLD, proc.stderr
    page = report.read_text()
    assert page.startswith("<!doctype html>")
    assert "What was not checked" in page
    stderr = proc.stderr.decode()
    assert f"(trust score {result['trust_score']}/100)." in stderr
    assert "Verdict: " in stderr


def test_a_score_at_or_above_the_threshold_exits_0(site_url: str) -> None:
    proc = veritas(site_url + "/", "--tier", "quick_scan", "--fail-under", "0")
    assert proc.returncode == exits.OK, proc.stderr
