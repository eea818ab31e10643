"""The API keeps the contract it publishes: schemathesis against a live server's /openapi.json.

Every route is called with generated requests (examples, coverage, fuzzing and stateful
sequences); no answer may be a 5xx, and each must have a documented status, content type
and body. The server runs a stand-in auditor that fetches nothing, so no generated URL is
ever contacted, and the guard is open so no generated host is resolved.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Final

from tests.clients.service import run_service
from tests.server.harness import FAKE_WORKER

CHECKS: Final = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
EXAMPLES_PER_ROUTE: Final = 20  # about half a minute here; raise it to search harder


def test_every_route_answers_as_the_openapi_document_says(tmp_path: Path) -> None:
    env = {"VERITAS_WORKER_COMMAND": f"{sys.executable} {FAKE_WORKER}"}
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with run_service(tmp_path / "server", env) as service:
        proc = subprocess.run(
            [
                str(schemathesis),
                "run",
                service.url("/openapi.json"),
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                str(EXAMPLES_PER_ROUTE),
                "--generation-database",
                "none",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    counts = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", proc.stdout)
    assert counts is not None and counts[1] == counts[2] == counts[3], proc.stdout[-2000:]
