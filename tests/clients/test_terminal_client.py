"""`python -m veritas --server`: the audit runs on a real server, the terminal shows it live.

The server is the real one with the real auditor; the resume test puts a proxy between
the client and the server and cuts every connection in the middle of the stream.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp

from protocol import exits
from protocol.events import Event
from tests.browser.proxy import CuttingProxy
from tests.clients.service import Service, free_port, request_json, start_audit
from veritas.client.options import ClientConfig
from veritas.client.session import Api, follow


def client(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "veritas", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_an_audit_on_the_server_shows_progress_and_writes_the_report(
    service: Service, target: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    proc = client(
        target, "--server", service.base, "--tier", "quick_scan", "--json",
        "--report", "html", "-o", str(report),
    )  # fmt: skip
    assert proc.returncode == exits.OK, proc.stderr
    result = json.loads(proc.stdout)
    assert result["url"] == target
    stderr = proc.stderr.decode()
    assert f"on {service.base}" in stderr
    assert "Scouting pages" in stderr  # the live phases, as a local run shows them
    assert "Verdict: " in stderr
    assert "Trust report for" in report.read_text()


def test_watch_follows_an_existing_audit_and_gates_on_its_score(
    service: Service, target: str
) -> None:
    audit_id = start_audit(service, target)
    proc = client("--watch", audit_id, "--server", service.base, "--json", "--fail-under", "100")
    assert proc.returncode == exits.BELOW_THRESHOLD, proc.stderr
    status, record = request_json("GET", service.url(f"/audits/{audit_id}"))
    assert status == 200
    assert json.loads(proc.stdout) == record["result"]


def test_a_refused_audit_is_one_line_and_status_2(service: Service) -> None:
    proc = client("ftp://example.test/", "--server", service.base)
    assert proc.returncode == exits.USAGE
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "400 bad_url" in lines[0], lines


def test_an_unreachable_server_is_one_line_and_status_4() -> None:
    proc = client("http://127.0.0.1:9/", "--server", f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == exits.NO_RESULT
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0], lines


async def test_a_cut_stream_resumes_after_the_last_event_with_none_lost_or_repeated(
    service: Service, target: str
) -> None:
    audit_id = start_audit(service, target, tier="standard_audit")
    seen: list[Event] = []
    async with CuttingProxy(service.port) as proxy, aiohttp.ClientSession() as http:
        api = Api(http, ClientConfig(server=proxy.base))

        def show(event: Event) -> None:
            seen.append(event)
            if len(seen) == 3:
                assert proxy.cut() >= 1

        outcome = await asyncio.wait_for(follow(api, audit_id, show), 120)
        streams = proxy.exchanges(audit_id)
    assert outcome.result is not None
    assert len(streams) >= 2
    assert streams[1].last_event_id == "3"
    worker_seqs = [e.seq for e in seen if not e.from_server]
    assert worker_seqs == list(range(1, len(worker_seqs) + 1))
    assert seen[-1].type == "audit_complete"
