"""Deep audits by the real auditor process: screenshots on the pipe, a browser lost mid-audit.

The site's /trap page signals the auditor's browser when the browser asks for it (the
scout's own fetch of it finds no browser yet): SIGKILL is a crash, SIGSTOP a hang. The
audit must end with what it had rendered before, and say what happened in a phase error.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.veritas.browser.site import SiteState, serve_site
from tests.veritas.worker import Reader, Run, run_worker

pytestmark = pytest.mark.browser


@pytest.fixture
def site() -> Iterator[tuple[SiteState, int]]:
    state = SiteState()
    with serve_site(state) as port:
        yield state, port


def deep_audit(state: SiteState, port: int, signal_name: str, **env: str) -> Run:
    entry = f"http://127.0.0.1:{port}/toast?next=" + quote(f"/trap?signal={signal_name}")

    def watch(reader: Reader) -> None:
        state.trap_pid = reader.proc.pid

    settings = {"VERITAS_BROWSER_SLOT_WAIT": "60", "VERITAS_TIMER_INTERVAL": "1", **env}
    return run_worker([entry, "--tier", "deep_forensic"], settings, "pipe", watch, timeout=90)


def render_phase(run: Run, type_: str) -> list[dict[str, object]]:
    return [dict(e.fields) for e in run.of_type(type_) if e.get("label") == "Rendered pages"]


def test_a_browser_killed_mid_audit_leaves_a_result_with_what_it_rendered(
    site: tuple[SiteState, int],
) -> None:
    state, port = site
    run = deep_audit(state, port, "KILL")
    assert run.returncode == 0, run.stderr
    assert state.trapped, "the browser never asked for the trap page"
    (error,) = render_phase(run, "phase_error")
    assert error["phase"] == "content"
    assert "BrowserCrashed" in str(error["error"]) and "/trap" in str(error["error"])
    shots = [e for e in run.pipe if e.type == "screenshot"]  # raw bytes on the pipe
    assert [e["label"] for e in shots][:2] == ["page 1", "page 2"]
    assert all(isinstance(e["data"], bytes) and e["data"][:2] == b"\xff\xd8" for e in shots)
    kinds = [f["pattern_type"] for f in run.result["findings"]]
    assert kinds.count("activity_notification") == 2  # rendered before the crash, kept
    assert any(e.startswith("render: BrowserCrashed") for e in run.result["errors"])


def test_a_driver_that_dies_mid_audit_ends_the_step_with_a_phase_error_and_a_result(
    site: tuple[SiteState, int],
) -> None:
    """What a driver past its heap bound (`--max-old-space-size`) comes to."""
    state, port = site
    run = deep_audit(state, port, "DRIVER")
    assert run.returncode == 0, run.stderr
    assert state.trapped, "the driver was never found below the auditor"
    (error,) = render_phase(run, "phase_error")
    assert "BrowserCrashed" in str(error["error"]) and "/trap" in str(error["error"])
    assert "activity_notification" in [f["pattern_type"] for f in run.result["findings"]]


def test_a_browser_that_stops_answering_is_given_up_and_killed(
    site: tuple[SiteState, int],
) -> None:
    state, port = site
    run = deep_audit(state, port, "STOP", VERITAS_BROWSER_PAGE_TIMEOUT="3")
    assert run.returncode == 0, run.stderr
    (error,) = render_phase(run, "phase_error")
    assert "stopped answering" in str(error["error"]) or "BrowserLimit" in str(error["error"])
    assert "activity_notification" in [f["pattern_type"] for f in run.result["findings"]]
    for pid in state.trapped:  # the stopped browser did not outlive its audit
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)


def test_a_killed_auditor_takes_its_browser_with_it(site: tuple[SiteState, int]) -> None:
    state, port = site
    run = deep_audit(state, port, "AUDITOR")
    assert run.returncode == -signal.SIGKILL, (state, run.result["errors"])
    assert state.trapped, "the browser never asked for the trap page"
    deadline = time.monotonic() + 30
    alive = state.trapped
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}") and not _zombie(pid)]
        time.sleep(0.1)
    assert alive == [], "Chromium processes outlived their auditor"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
