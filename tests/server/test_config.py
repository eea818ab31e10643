"""The server's configuration: defaults, VERITAS_* variables, flags, and clear errors."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.config import ServerConfig, from_command_line, from_environment
from server.errors import ConfigError


def test_defaults_match_the_documented_limits() -> None:
    config = ServerConfig()
    assert (config.max_workers, config.max_queued) == (4, 100)
    assert config.max_body_bytes == 64 * 1024
    assert config.max_url_length == 2048
    assert (config.ping_interval, config.slow_subscriber_deadline) == (15.0, 10.0)
    assert config.time_limit("quick_scan") == 30 + config.time_margin
    assert config.time_limit("deep_forensic") == 180 + config.time_margin


def test_environment_then_flags() -> None:
    environ = {
        "VERITAS_MAX_WORKERS": "2",
        "VERITAS_PORT": "9000",
        "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
        "VERITAS_IPC_MODE": "validate",
        "VERITAS_TIME_QUICK_SCAN": "5",
        "VERITAS_DATA_DIR": "",
    }
    config = from_command_line(["--port", "9100", "--data-dir", "d"], environ)
    assert (config.max_workers, config.port, config.data_dir) == (2, 9100, Path("d"))
    assert config.allow_private_targets
    assert config.ipc_mode == "validate"
    assert config.tier_seconds["quick_scan"] == 5.0
    assert from_environment(environ).data_dir is None


def test_on_lost_is_a_flag_too_and_the_flag_wins(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"VERITAS_ON_LOST": "interrupted"}
    assert from_command_line([], environ).on_lost == "interrupted"
    assert from_command_line(["--on-lost", "requeue"], environ).on_lost == "requeue"
    with pytest.raises(SystemExit):
        from_command_line(["--on-lost", "retry"], environ)
    assert "invalid choice: 'retry'" in capsys.readouterr().err


def test_the_runner_config_is_composed_from_the_server_config() -> None:
    config = ServerConfig(kill_grace=0.5, allow_private_targets=True, worker_command=("w", "x"))
    runner = config.runner
    assert (runner.grace_seconds, runner.allow_private_targets) == (0.5, True)
    assert runner.worker_command == ("w", "x")
    assert ServerConfig().runner.worker_command[1:] == ("-m", "veritas")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("VERITAS_MAX_WORKERS", "0", "max_workers"),
        ("VERITAS_MAX_WORKERS", "four", "VERITAS_MAX_WORKERS"),
        ("VERITAS_IPC_MODE", "smoke", "VERITAS_IPC_MODE"),
        ("VERITAS_IPC_ROLLOUT", "1.5", "VERITAS_IPC_ROLLOUT"),
        ("VERITAS_ALLOW_PRIVATE_TARGETS", "maybe", "VERITAS_ALLOW_PRIVATE_TARGETS"),
        ("VERITAS_ALLOW_TARGETS", "localhost:80", "VERITAS_ALLOW_TARGETS"),
        ("VERITAS_SSE_PING", "0", "ping_interval"),
        ("VERITAS_TIME_DEEP_FORENSIC", "nan", "deep_forensic"),
        ("VERITAS_PORT", "70000", "port"),
    ],
)
def test_bad_values_name_what_is_wrong(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        from_environment({name: value})


def test_a_bad_variable_stops_the_server_with_a_clear_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server", "--data-dir", ""],
        env={"VERITAS_MAX_QUEUED": "-3", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "max_queued" in done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_python_m_server_serves_and_creates_its_data_dir(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "var"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as http:
            body = await _healthz(http, f"http://127.0.0.1:{port}/healthz")
        assert body["status"] == "ok"
        assert data_dir.is_dir()
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None


async def _healthz(http: httpx.AsyncClient, url: str) -> dict[str, object]:
    async with asyncio.timeout(60):
        while True:
            try:
                response = await http.get(url)
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
                continue
            body: dict[str, object] = response.json()
            return body


def test_connection_settings_come_from_the_environment() -> None:
    environ = {
        "VERITAS_HEADER_TIMEOUT": "2.5",
        "VERITAS_IDLE_TIMEOUT": "30",
        "VERITAS_BODY_TIMEOUT": "7",
        "VERITAS_MAX_CONNECTIONS": "50",
        "VERITAS_LISTEN_BACKLOG": "16",
    }
    config = from_environment(environ)
    assert (config.header_timeout, config.idle_timeout, config.body_timeout) == (2.5, 30, 7)
    assert (config.max_connections, config.listen_backlog) == (50, 16)


@pytest.mark.parametrize(
    ("name", "value"),
    [("VERITAS_HEADER_TIMEOUT", "0"), ("VERITAS_IDLE_TIMEOUT", "-1"),
     ("VERITAS_BODY_TIMEOUT", "nan"), ("VERITAS_MAX_CONNECTIONS", "0"),
     ("VERITAS_LISTEN_BACKLOG", "x")],
)  # fmt: skip
def test_bad_connection_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name.removeprefix("VERITAS_").lower() + "|" + name):
        from_environment({name: value})
