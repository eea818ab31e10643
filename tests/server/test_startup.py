"""What the server says at start: its version, a taken port in one line, an open guard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def server(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    return subprocess.run(
        [sys.executable, "-m", "server", "--data-dir", "", *args],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=60,
        check=False,
    )


def test_version_and_help_go_to_stdout() -> None:
    version = server("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("veritas-server ")
    assert "usage: python -m server" in server("--help").stdout


def test_a_port_in_use_is_one_clear_line_and_status_2(taken_port: int) -> None:
    proc = server("--port", str(taken_port))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"veritas-server: cannot listen on 127.0.0.1:{taken_port}: "
        "the address is already in use (another server is running there?)"
    ]


def test_an_open_guard_is_announced_as_a_warning(taken_port: int) -> None:
    proc = server("--port", str(taken_port), VERITAS_ALLOW_PRIVATE_TARGETS="1")
    assert "WARNING" in proc.stderr
    assert "private-address guard is OFF" in proc.stderr
