"""The command line: usage errors in one line with status 2, the result by hand, the config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from tests.veritas.worker import run_worker, worker_env
from veritas.analysis import SECURITY_MODULES
from veritas.config import SECURITY_MODULE_NAMES, Limits, load_config
from veritas.errors import UsageError


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["ftp://example.com/"], {}, "only http and https"),
        (["not a url"], {}, "cannot be audited"),
        (["http://example.com/", "--tier", "huge"], {}, "invalid choice: 'huge'"),
        (["http://example.com/", "--ipc", "pipe"], {}, "needs a file descriptor"),
        (["http://example.com/", "--ipc", "pipe", "--ipc-fd", "x"], {}, "descriptor number"),
        (["http://example.com/", "--ipc", "pipe", "--ipc-fd", "1"], {}, "standard stream"),
        (["http://example.com/", "--security-modules", "tls,nope"], {}, "unknown security"),
        (["http://example.com/"], {"VERITAS_MAX_PAGE_BYTES": "-1"}, "positive number"),
        (["http://example.com/"], {"VERITAS_IPC_MODE": "carrier-pigeon"}, "VERITAS_IPC_MODE"),
        ([], {}, "required: url"),
        (["http://example.com/", "--connect-to", "a:b:c:d"], {}, "not a port number"),
        (["http://example.com/", "--connect-to", "a:1:b"], {}, "HOST:PORT:ADDR:PORT"),
        (["http://example.com/", "--connect-to", "1.2.3.4:1:b:2"], {}, "HOST must be a name"),
        (["http://example.com/", "--ca-file", "no-such-file.pem"], {}, "--ca-file"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    args: list[str], env: dict[str, str], says: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "veritas", *args],
        capture_output=True,
        env=worker_env(env),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("veritas: error: ")
    assert says in lines[0]
    assert proc.stdout == b""


def test_by_hand_the_result_is_json_on_stdout_and_progress_on_stderr(
    site_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "veritas",
            site_url + "/",
            "--tier",
            "quick_scan",
            "--json",
            "-o",
            str(output),
        ],
        capture_output=True,
        env=worker_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["url"] == site_url + "/"
    assert 0 <= result["trust_score"] <= 100
    assert result["pages_scanned"] == 1
    assert json.loads(output.read_text()) == result
    stderr = proc.stderr.decode()
    assert "Scouting pages" in stderr
    assert "trust score" in stderr


def test_only_the_named_security_modules_run(site_url: str) -> None:
    run = run_worker(
        [site_url + "/", "--tier", "quick_scan", "--security-modules", "tls,security_headers"],
        mode="stdout",
    )
    assert run.returncode == 0, run.stderr
    assert [e["module"] for e in run.of_type("security_result")] == ["tls", "security_headers"]
    assert set(run.result["security_results"]) == {"tls", "security_headers"}


def test_security_reports_the_response_headers_it_saw(site_url: str) -> None:
    run = run_worker([site_url + "/", "--tier", "quick_scan"], mode="stdout")
    (security,) = [e for e in run.of_type("phase_complete") if e["phase"] == "security"]
    assert security["summary"]["headers"]["x-frame-options"] == "DENY"
    assert security["summary"]["status"] == 200


def test_the_audit_result_carries_the_whole_report(site_url: str) -> None:
    run = run_worker(
        [site_url + "/", "--tier", "quick_scan", "--verdict-mode", "expert"], mode="stdout"
    )
    result = run.result
    for key in (
        "trust_score", "risk_level", "signal_scores", "findings", "security_results", "narrative",
        "recommendations", "site_type", "pages_scanned", "elapsed_seconds", "errors", "url",
        "tier", "verdict_mode",
    ):  # fmt: skip
        assert key in result, key
    assert result["verdict_mode"] == "expert"
    assert result["tier"] == "quick_scan"
    phases = [e["phase"] for e in run.of_type("phase_complete")]
    assert phases == ["init", "scout", "security", "content", "intel", "judge"]


def test_limits_come_from_the_environment_and_the_tier_sets_the_budget() -> None:
    config = load_config(
        ["http://example.com/", "--tier", "deep_forensic"],
        {"VERITAS_PAGE_TIMEOUT": "2.5", "VERITAS_MAX_REDIRECTS": "3", "VERITAS_AUDIT_TIMEOUT": "7"},
        SECURITY_MODULES,
    )
    assert config.limits.page_timeout == 2.5
    assert config.limits.max_redirects == 3
    assert config.budget.pages == 10
    assert config.budget.time_limit == 7
    assert config.limits.connect_timeout == Limits().connect_timeout


def test_the_ipc_mode_and_fd_can_come_from_the_environment() -> None:
    config = load_config(["http://example.com/"], {"VERITAS_IPC_FD": "9"}, SECURITY_MODULES)
    assert (config.ipc, config.ipc_fd) == ("pipe", 9)
    flag_wins = load_config(
        ["http://example.com/", "--ipc", "stdout"], {"VERITAS_IPC_MODE": "validate"}, ()
    )
    assert (flag_wins.ipc, flag_wins.ipc_fd) == ("stdout", None)


def test_allow_private_must_be_a_clear_flag() -> None:
    with pytest.raises(UsageError, match="VERITAS_ALLOW_PRIVATE_TARGETS"):
        load_config(["http://example.com/"], {"VERITAS_ALLOW_PRIVATE_TARGETS": "maybe"}, ())


def test_the_light_list_of_module_names_matches_the_analysers() -> None:
    # `python -m veritas` checks --security-modules against this list before it loads the
    # analysers, so `hello` can leave early; the two must never drift apart.
    assert tuple(SECURITY_MODULES) == SECURITY_MODULE_NAMES


def test_hello_is_sent_before_the_analysers_are_imported(site_url: str) -> None:
    # stdout and stderr share one pipe, so the order of the two writes is the order seen;
    # with PYTHONVERBOSE every import is announced on stderr as it happens.
    env = {**worker_env({"VERITAS_ALLOW_PRIVATE_TARGETS": "1"}), "PYTHONVERBOSE": "1"}
    command = [sys.executable, "-m", "veritas", site_url, "--tier", "quick_scan", "--ipc", "stdout"]
    run = subprocess.run(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, check=False
    )
    assert run.returncode == 0
    output = run.stdout
    hello = output.index(b'##VERITAS {"v":1,"type":"hello"')
    assert output.index(b"import 'veritas.analysis'") > hello
    assert output.index(b"import 'aiohttp'") > hello


def test_connect_to_and_ca_file_reach_the_config(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    args = ["https://shop.example.com/", "--ca-file", str(pem)]
    args += ["--connect-to", "shop.example.com:443:127.0.0.1:8443", "--connect-to", "::[::1]:"]
    config = load_config(args, {}, SECURITY_MODULE_NAMES)
    assert [str(rule) for rule in config.connect_to] == [
        "shop.example.com:443:127.0.0.1:8443",
        "::[::1]:",
    ]
    assert config.ca_file == pem


def test_a_ca_file_without_certificates_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="no usable CA certificates"):
        load_config(["https://a.example/", "--ca-file", str(empty)], {}, SECURITY_MODULE_NAMES)
