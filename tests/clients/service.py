"""The real server, as a subprocess on 127.0.0.1, and the plain HTTP calls the tests make to it.

`python -m server` on a free port with its own data directory; its output goes to a file
that a failing start-up quotes. The worker it spawns is the real one (`python -m veritas`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.protocol.sse_parser import Message, parse

START_TIMEOUT: Final = 20.0
STOP_TIMEOUT: Final = 15.0
AUDIT_TIMEOUT: Final = 90.0
TERMINAL: Final = ("audit_complete", "audit_error")
# Quick reconnects keep the tests short; the behaviour under test does not depend on them.
TEST_ENV: Final = {
    "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
    "VERITAS_SSE_RETRY_MS": "300",
    "VERITAS_SSE_RETRY_JITTER_MS": "200",
}


@dataclass(frozen=True)
class Service:
    base: str  # http://127.0.0.1:PORT
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        return self.base + path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_service(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Service]:
    """The server running with `env` over the test defaults; stopped (and its group) after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "server.streaming.log"
    environ = {**os.environ, **TEST_ENV, **(env or {})}
    command = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    service = Service(f"http://127.0.0.1:{port}", port, log_path)
    try:
        wait_until_healthy(service, process)
        yield service
    finally:
        stop(process)


def wait_until_healthy(service: Service, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start-up:\n{service.log_path.read_text()}")
        try:
            with urllib.request.urlopen(service.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz:\n{service.log_path.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a grace period, then SIGKILL to the whole group (the server and its workers)."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def request_json(
    method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def start_audit(service: Service, target: str, tier: str = "quick_scan") -> str:
    status, body = request_json("POST", service.url("/audits"), {"url": target, "tier": tier})
    assert status == 202, (status, body)
    audit_id: str = body["id"]
    return audit_id


def read_events(service: Service, audit_id: str, last_event_id: int | None = None) -> bytes:
    """The raw event stream of an audit, read until the server closes it."""
    request = urllib.request.Request(service.url(f"/audits/{audit_id}/events"))
    request.add_header("Accept", "text/event-stream")
    if last_event_id is not None:
        request.add_header("Last-Event-ID", str(last_event_id))
    with urllib.request.urlopen(request, timeout=AUDIT_TIMEOUT) as response:
        raw: bytes = response.read()
        return raw


def events(raw: bytes) -> list[Message]:
    return parse(raw).messages


def wait_finished(service: Service, audit_id: str) -> list[Message]:
    """Every event of the audit, once it has ended."""
    return events(read_events(service, audit_id))


def assert_complete_and_contiguous(found: list[Message], first: int = 1) -> None:
    """Ids `first`, `first`+1, ... with no gap or repeat, ending with the audit's success."""
    ids = [int(m.last_event_id) for m in found]
    assert ids == list(range(first, first + len(ids))), ids
    types = [m.type for m in found]
    assert types, "no events"
    assert types[-1] == "audit_complete", found[-1].data
    assert sum(t in TERMINAL for t in types) == 1, types
