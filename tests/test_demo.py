"""`make demo`: the server and the sample sites come up, an audit of a sample site runs, and
stopping the demo stops its server."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.clients.service import free_port

ROOT = Path(__file__).resolve().parent.parent


def three_free_ports() -> int:
    """A port whose next two are free too: the demo's sites take three in a row."""
    while True:
        first = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for port in (first + 1, first + 2):
                    probe = stack.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


def post_audit(port: int, url: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/audits",
        data=json.dumps({"url": url}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_demo_serves_sample_sites_a_client_can_audit(tmp_path: Path) -> None:
    port, sites = free_port(), three_free_ports()
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen(
        [
            sys.executable,
            "scripts/demo.py",
            "--port",
            str(port),
            "--sites-port",
            str(sites),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert demo.stdout is not None
        said: list[str] = []
        for line in demo.stdout:  # until the demo says it is ready
            if line.startswith("Ctrl-C stops"):
                break
            said.append(line)
        urls = [line.split()[0] for line in said if line.startswith("  http://127.0.0.1:")]
        assert len(urls) == 3, (tmp_path / "demo.log").read_text()
        audit = subprocess.run(
            [
                sys.executable,
                "-m",
                "veritas",
                urls[2],
                "--server",
                f"http://127.0.0.1:{port}",
                "--tier",
                "quick_scan",
                "--json",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert audit.returncode == 0, audit.stderr
        assert json.loads(audit.stdout)["url"] == urls[2]
        # The guard is open for the three sites only: the demo's own server is refused.
        status, body = post_audit(port, f"http://127.0.0.1:{port}/metrics")
        assert (status, body["error"]["code"]) == (403, "forbidden_target")
    finally:
        demo.send_signal(signal.SIGTERM)
        status = demo.wait(30)
        if demo.stdout is not None:
            demo.stdout.close()
        log.close()
    assert status == 0
