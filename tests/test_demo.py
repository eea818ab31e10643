"""`make demo`: the server and the sample sites come up, an audit of a sample site runs, and
stopping the demo stops its server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.clients.service import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_serves_sample_sites_a_client_can_audit(tmp_path: Path) -> None:
    port, sites = free_port(), free_port()
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
        stderr=subprocess.DEVNULL,
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
        assert len(urls) == 3, said
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
    finally:
        demo.send_signal(signal.SIGTERM)
        status = demo.wait(30)
        if demo.stdout is not None:
            demo.stdout.close()
    assert status == 0
