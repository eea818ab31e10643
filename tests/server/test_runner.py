"""The runner against a fake worker process: every event once, in order, and one terminal event."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocol import exits
from protocol.events import Event
from server.streaming.runner import (
    RunnerConfig,
    WorkerJob,
    WorkerReport,
    choose_ipc_mode,
    run_worker,
)

FAKE_WORKER = Path(__file__).parent / "workers" / "fake_worker.py"
NORMAL_EVENTS = 15  # hello, 6 phases started and completed, a finding, the result


class Recorder:
    """An EventSink that keeps everything and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def append(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.append(event)

    async def wait_for(self, condition: Callable[[list[Event]], bool]) -> None:
        while not condition(self.events):
            if self.events and self.events[-1].terminal:
                pytest.fail(f"the run ended first: {self.types}")
            self._changed.clear()
            await self._changed.wait()

    @property
    def worker_events(self) -> list[Event]:
        return [e for e in self.events if not e.from_server]

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def terminal(self) -> Event:
        return self.events[-1]


def fake(behaviour: str, *args: str, **overrides: Any) -> RunnerConfig:
    command = (sys.executable, str(FAKE_WORKER), "--behaviour", behaviour, *args)
    return RunnerConfig(worker_command=command, **{"grace_seconds": 1.0, **overrides})


def job(ipc: str = "pipe", time_limit: float = 60.0, **changes: Any) -> WorkerJob:
    fields: dict[str, Any] = {
        "audit_id": "a1",
        "url": "http://127.0.0.1:9/",
        "tier": "quick_scan",
        "verdict_mode": "simple",
        "security_modules": None,
        "ipc": ipc,
        "time_limit": time_limit,
    }
    return WorkerJob(**{**fields, **changes})


def assert_well_formed(sink: Recorder, worker_events: int) -> None:
    """audit_started first, worker seqs 1..n once each in order, one terminal event last."""
    assert sink.types[0] == "audit_started"
    assert [e.seq for e in sink.worker_events] == list(range(1, worker_events + 1))
    assert [e.terminal for e in sink.events] == [False] * (len(sink.events) - 1) + [True]


def fallbacks(sink: Recorder) -> list[Event]:
    return [e for e in sink.events if e.type == "ipc_fallback"]


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- complete runs -------------------------------------------------------------------------


@pytest.mark.parametrize("ipc", ["pipe", "stdout", "validate"])
async def test_normal_run_streams_every_event_once_and_completes(ipc: str) -> None:
    sink = Recorder()
    report = await run_worker(job(ipc), sink, fake("normal"))
    assert_well_formed(sink, NORMAL_EVENTS)
    assert sink.types == ["audit_started"] + [e.type for e in sink.worker_events] + [
        "audit_complete"
    ]
    assert sink.events[0]["pid"] == report.pid
    assert sink.worker_events[0].type == "hello"
    assert sink.worker_events[0]["ipc"] == ipc
    assert report.outcome == "complete"
    assert report.exit_status == 0
    assert report.channel == ("stdout" if ipc == "stdout" else "pipe")
    assert report.fallbacks == ()
    assert report.events == NORMAL_EVENTS
    assert report.mismatches == 0
    assert report.duplicates == (NORMAL_EVENTS if ipc == "validate" else 0)
    assert report.result == {"trust_score": 77, "risk_level": "low", "findings": []}
    assert report.first_event_latency is not None and report.first_event_latency > 0
    assert sink.terminal["elapsed"] >= report.first_event_latency


async def test_worker_gets_its_arguments_and_environment() -> None:
    sink = Recorder()
    config = fake("env", allow_private_targets=True, extra_env={"VERITAS_EXTRA": "x"})
    task = job("pipe", security_modules=("tls", "headers"), tier="deep_forensic")
    await run_worker(task, sink, config)
    seen = json.loads(next(e for e in sink.events if e.type == "log_entry")["message"])
    argv, env = seen["argv"], seen["env"]
    fd = argv[argv.index("--ipc-fd") + 1]
    assert argv[argv.index("http://127.0.0.1:9/") :] == [
        "http://127.0.0.1:9/",
        "--tier",
        "deep_forensic",
        "--verdict-mode",
        "simple",
        "--security-modules",
        "tls,headers",
        "--ipc",
        "pipe",
        "--ipc-fd",
        fd,
    ]
    assert env == {
        "VERITAS_IPC_FD": fd,
        "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
        "VERITAS_EXTRA": "x",
    }


async def test_allowed_endpoints_reach_the_worker_as_the_server_read_them() -> None:
    sink = Recorder()
    opened = frozenset({("127.0.0.1", 8701), ("::1", 80)})
    await run_worker(job("stdout"), sink, fake("env", allow_targets=opened))
    seen = json.loads(next(e for e in sink.events if e.type == "log_entry")["message"])
    assert seen["env"]["VERITAS_ALLOW_TARGETS"] == "127.0.0.1:8701,[::1]:80"


async def test_stdout_mode_passes_no_fd_and_private_targets_stay_refused() -> None:
    sink = Recorder()
    await run_worker(job("stdout"), sink, fake("env"))
    seen = json.loads(next(e for e in sink.events if e.type == "log_entry")["message"])
    assert "--ipc-fd" not in seen["argv"]
    assert seen["argv"][-2:] == ["--ipc", "stdout"]
    assert "VERITAS_IPC_FD" not in seen["env"]
    assert "VERITAS_ALLOW_PRIVATE_TARGETS" not in seen["env"]


async def test_flood_of_events_arrives_complete_and_in_order() -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("flood", "--count", "20000"))
    assert_well_formed(sink, 20002)
    assert report.outcome == "complete"
    assert report.events == 20002


# -- fallback ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", range(1, NORMAL_EVENTS + 1))
async def test_garbage_frame_after_k_events_falls_back_with_nothing_lost(k: int) -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("garbage", "--after", str(k)))
    assert_well_formed(sink, NORMAL_EVENTS)
    [fallback] = fallbacks(sink)
    assert fallback["from"] == "pipe"
    assert fallback["to"] == "stdout"
    assert fallback["reason"].startswith("bad frame from the worker")
    # The fallback is appended the moment the bad frame is read: after the k good ones.
    assert sink.events.index(fallback) == 1 + k
    assert sink.terminal.type == "audit_complete"
    assert report.channel == "stdout"
    assert report.fallbacks == (fallback["reason"],)
    assert report.duplicates == k  # the worker re-sent 1..k on stdout


async def test_oversized_frame_falls_back() -> None:
    sink = Recorder()
    config = fake("oversize", "--after", "4", max_frame_size=1024)
    report = await run_worker(job("pipe"), sink, config)
    assert_well_formed(sink, NORMAL_EVENTS + 1)
    [fallback] = fallbacks(sink)
    assert "exceeds the limit of 1024 bytes" in fallback["reason"]
    # The stdout line limit is separate: the big event arrives there.
    assert sink.worker_events[4]["message"] == "x" * 4096
    assert report.outcome == "complete"


async def test_server_event_type_from_the_worker_is_refused_and_falls_back() -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("server_event", "--after", "2"))
    assert_well_formed(sink, NORMAL_EVENTS)
    [fallback] = fallbacks(sink)
    assert "server event" in fallback["reason"]
    assert sink.types.count("audit_complete") == 1
    assert report.outcome == "complete"


async def test_worker_switching_to_stdout_by_itself_is_reported_once() -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("switch", "--after", "5"))
    assert_well_formed(sink, NORMAL_EVENTS)
    [fallback] = fallbacks(sink)
    assert fallback["reason"] == "the worker switched to stdout"
    # Appended just before the first event that only stdout brought.
    assert sink.events[sink.events.index(fallback) + 1].seq == 6
    assert report.channel == "stdout"
    assert report.outcome == "complete"


async def test_no_pipe_available_runs_the_worker_on_stdout() -> None:
    def no_pipe() -> tuple[int, int]:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("normal", pipe_factory=no_pipe))
    [fallback] = fallbacks(sink)
    assert sink.types[:2] == ["ipc_fallback", "audit_started"]
    assert "could not create the ipc pipe" in fallback["reason"]
    assert "Too many open files" in fallback["reason"]
    assert sink.worker_events[0]["ipc"] == "stdout"
    assert [e.seq for e in sink.worker_events] == list(range(1, NORMAL_EVENTS + 1))
    assert report.channel == "stdout"
    assert report.outcome == "complete"


async def test_a_pipe_that_cannot_be_passed_is_dropped_and_the_worker_runs_on_stdout() -> None:
    unopened = 19_999  # below the fd limit, never opened in this test process

    def unpassable_pipe() -> tuple[int, int]:
        read_end, write_end = os.pipe()
        os.close(write_end)
        return read_end, unopened

    assert _fd_closed(unopened)
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("normal", pipe_factory=unpassable_pipe))
    [fallback] = fallbacks(sink)
    assert fallback["reason"].startswith("could not pass the ipc pipe to the worker")
    assert sink.types[:2] == ["ipc_fallback", "audit_started"]
    assert sink.worker_events[0]["ipc"] == "stdout"
    assert [e.seq for e in sink.worker_events] == list(range(1, NORMAL_EVENTS + 1))
    assert sink.types[-1] == "audit_complete"
    assert report.outcome == "complete"


def _fd_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


async def test_foreign_output_is_logged_not_streamed(caplog: pytest.LogCaptureFixture) -> None:
    sink = Recorder()
    with caplog.at_level(logging.INFO, logger="server.worker"):
        report = await run_worker(job("pipe"), sink, fake("foreign"))
    assert_well_formed(sink, NORMAL_EVENTS)
    assert report.outcome == "complete"
    assert fallbacks(sink) == []
    messages = [r.getMessage() for r in caplog.records if r.name == "server.worker"]
    assert "audit a1 stdout: print() output that is not an event" in messages
    assert "audit a1 stderr: progress: hello" in messages
    assert any(m.startswith("audit a1 stdout: bad event line dropped") for m in messages)


async def test_logged_worker_lines_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    sink = Recorder()
    with caplog.at_level(logging.INFO, logger="server.worker"):
        await run_worker(job("pipe"), sink, fake("foreign", log_lines=3))
    messages = [r.getMessage() for r in caplog.records if r.name == "server.worker"]
    stdout = [m for m in messages if m.startswith("audit a1 stdout: ")]
    # 15 foreign lines and one bad event line: 3 logged, then one count of the rest.
    assert stdout == ["audit a1 stdout: print() output that is not an event"] * 3 + [
        "audit a1 stdout: 13 more lines not logged"
    ]


# -- validate mode -------------------------------------------------------------------------


async def test_validate_mode_counts_an_event_that_differs_between_channels() -> None:
    sink = Recorder()
    report = await run_worker(job("validate"), sink, fake("differ", "--after", "2"))
    assert_well_formed(sink, NORMAL_EVENTS)
    assert report.mismatches == 1
    assert report.outcome == "complete"


async def test_validate_mode_with_a_broken_pipe_stops_comparing_and_loses_nothing() -> None:
    sink = Recorder()
    report = await run_worker(job("validate"), sink, fake("garbage", "--after", "3"))
    assert_well_formed(sink, NORMAL_EVENTS)
    assert len(fallbacks(sink)) == 1
    assert report.mismatches == 0
    assert report.channel == "stdout"


# -- failures ------------------------------------------------------------------------------


async def test_sigkill_mid_audit_keeps_every_event_sent_and_reports_crashed() -> None:
    sink = Recorder()
    run = asyncio.create_task(run_worker(job("pipe"), sink, fake("hang", "--after", "5")))
    try:
        await sink.wait_for(lambda events: len([e for e in events if not e.from_server]) == 5)
        os.kill(sink.events[0]["pid"], signal.SIGKILL)
    finally:
        report = await run
    assert_well_formed(sink, 5)
    assert sink.terminal.type == "audit_error"
    assert sink.terminal["code"] == "crashed"
    assert "killed by SIGKILL" in sink.terminal["error"]
    assert "fake worker" in sink.terminal["error"]  # its stderr tail
    assert report.outcome == "crashed"
    assert report.exit_status == -signal.SIGKILL


async def test_crash_reports_the_exit_status_and_the_last_stderr_lines() -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("crash", "--after", "4"))
    assert_well_formed(sink, 4)
    error = sink.terminal["error"]
    assert sink.terminal["code"] == "crashed"
    assert error.startswith("the worker exited with status 3; the last 3 lines of its stderr:")
    assert error.endswith("Traceback (most recent call last):\nRuntimeError: the fake worker broke")
    assert report.exit_status == 3


async def test_a_worker_that_cannot_conclude_is_no_result_with_its_own_reason() -> None:
    sink = Recorder()
    report = await run_worker(job("pipe"), sink, fake("refuse"))
    assert_well_formed(sink, 3)
    assert sink.terminal["code"] == "no_result"
    assert report.exit_status == exits.NO_RESULT
    assert sink.terminal["error"] == (
        "the audit produced no result after reporting: refused to audit 10.0.0.1: it is a"
        " private address; the last 1 lines of its stderr:\nfake worker "
        f"{report.pid} starting: refuse"
    )


async def test_stderr_tail_keeps_only_the_last_lines() -> None:
    sink = Recorder()
    await run_worker(job("pipe"), sink, fake("crash", "--after", "1", stderr_tail_lines=1))
    assert sink.terminal["error"].endswith(
        "the last 1 lines of its stderr:\nRuntimeError: the fake worker broke"
    )


async def test_exit_zero_without_a_result_is_no_result() -> None:
    sink = Recorder()
    report = await run_worker(job("stdout"), sink, fake("no_result"))
    assert_well_formed(sink, NORMAL_EVENTS - 1)
    assert sink.terminal["code"] == "no_result"
    assert report.outcome == "no_result"
    assert report.result is None


async def test_time_limit_stops_the_whole_process_group(tmp_path: Path) -> None:
    sink = Recorder()
    pid_file = tmp_path / "child.pid"
    config = fake("group_child", "--pid-file", str(pid_file))
    report = await run_worker(job("pipe", time_limit=1.0), sink, config)
    assert_well_formed(sink, 1)
    assert sink.terminal["code"] == "timeout"
    assert sink.terminal["error"] == "the audit exceeded its time limit of 1 s"
    assert report.exit_status == -signal.SIGTERM
    assert report.pid is not None
    child = int(pid_file.read_text())
    # The leftover child was in the worker's group; it is killed, then reaped by init.
    await _until(lambda: not group_exists(report.pid or 0) and not process_exists(child))


async def test_worker_ignoring_sigterm_is_killed_after_the_grace() -> None:
    sink = Recorder()
    config = fake("ignore_term", grace_seconds=0.5)
    report = await run_worker(job("pipe", time_limit=0.5), sink, config)
    assert sink.terminal["code"] == "timeout"
    assert report.exit_status == -signal.SIGKILL
    assert report.pid is not None and not group_exists(report.pid)


async def test_cancellation_kills_the_worker_reports_cancelled_and_propagates() -> None:
    sink = Recorder()
    run = asyncio.create_task(run_worker(job("pipe"), sink, fake("ignore_term", grace_seconds=0.3)))
    await sink.wait_for(lambda events: any(e.type == "hello" for e in events))
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert sink.types[-1] == "audit_error"
    assert sink.terminal["code"] == "cancelled"
    assert [e.terminal for e in sink.events].count(True) == 1
    assert not group_exists(sink.events[0]["pid"])


async def test_a_second_cancellation_during_the_grace_kills_at_once() -> None:
    sink = Recorder()
    config = fake("ignore_term", grace_seconds=60.0)
    run = asyncio.create_task(run_worker(job("pipe"), sink, config))
    await sink.wait_for(lambda events: any(e.type == "hello" for e in events))
    run.cancel()
    await asyncio.sleep(0.1)  # inside the 60 s grace now, the worker ignoring SIGTERM
    assert not run.done()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert sink.terminal["code"] == "cancelled"
    assert [e.terminal for e in sink.events].count(True) == 1
    pid = sink.events[0]["pid"]
    await _until(lambda: not group_exists(pid))


async def test_missing_command_is_spawn_failed(tmp_path: Path) -> None:
    sink = Recorder()
    config = RunnerConfig(worker_command=(str(tmp_path / "no-such-worker"),))
    report = await run_worker(job("pipe"), sink, config)
    assert sink.types == ["audit_error"]
    assert sink.terminal["code"] == "spawn_failed"
    assert "could not start the worker" in sink.terminal["error"]
    assert "No such file or directory" in sink.terminal["error"]
    assert report.outcome == "spawn_failed"
    assert report.exit_status is None


async def test_orphan_holding_the_pipes_open_does_not_hold_up_the_end(tmp_path: Path) -> None:
    sink = Recorder()
    pid_file = tmp_path / "orphan.pid"
    config = fake("orphan", "--pid-file", str(pid_file), eof_wait_seconds=0.3)
    try:
        report = await run_worker(job("pipe"), sink, config)
    finally:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert_well_formed(sink, NORMAL_EVENTS)
    assert report.outcome == "complete"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_no_descriptor_outlives_a_run_whatever_its_end(tmp_path: Path) -> None:
    before = open_fds()
    runs = [
        (job("pipe"), fake("garbage", "--after", "2")),
        (job("validate"), fake("crash", "--after", "2")),
        (job("stdout", time_limit=0.3), fake("sleep", grace_seconds=0.2)),
        (job("pipe"), RunnerConfig(worker_command=(str(tmp_path / "missing"),))),
    ]
    for task, config in runs:
        await run_worker(task, Recorder(), config)
    cancelled = asyncio.create_task(run_worker(job("pipe"), Recorder(), fake("sleep")))
    await asyncio.sleep(0.2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.sleep(0)  # the transports' last callbacks close their files
    assert open_fds() - before == set()


async def _until(condition: Callable[[], bool], attempts: int = 1000) -> None:
    """Poll what no event announces (a process reaped by init), a bounded number of times."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.02)
    pytest.fail("the condition never became true")


# -- the mode choice and the configuration ------------------------------------------------


def test_choose_ipc_mode_prefers_the_request_then_the_environment() -> None:
    rng = random.Random(1)
    assert choose_ipc_mode("validate", "stdout", 1.0, rng) == "validate"
    assert choose_ipc_mode(None, "stdout", 1.0, rng) == "stdout"
    assert choose_ipc_mode(None, "", 0.0, rng) == "stdout"
    assert choose_ipc_mode(None, None, 1.0, rng) == "pipe"


def test_choose_ipc_mode_rollout_is_the_share_on_the_pipe() -> None:
    rng = random.Random(7)
    modes = [choose_ipc_mode(None, None, 0.25, rng) for _ in range(4000)]
    assert 800 < modes.count("pipe") < 1200
    assert set(modes) == {"pipe", "stdout"}


@pytest.mark.parametrize(
    ("requested", "env_mode", "rollout", "message"),
    [
        ("carrier-pigeon", None, 1.0, "ipc: 'carrier-pigeon' is not one of pipe, stdout, validate"),
        (None, "pipes", 1.0, "VERITAS_IPC_MODE: 'pipes' is not one of"),
        (None, None, 1.5, "VERITAS_IPC_ROLLOUT must be between 0 and 1"),
    ],
)
def test_choose_ipc_mode_refuses_unknown_values(
    requested: str | None, env_mode: str | None, rollout: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        choose_ipc_mode(requested, env_mode, rollout, random.Random(0))


def test_config_and_job_are_validated_at_construction() -> None:
    with pytest.raises(ValueError, match="worker_command"):
        RunnerConfig(worker_command=())
    with pytest.raises(ValueError, match="max_frame_size must be at least 1"):
        RunnerConfig(max_frame_size=0)
    with pytest.raises(ValueError, match="grace_seconds"):
        RunnerConfig(grace_seconds=-1)
    with pytest.raises(ValueError, match="ipc 'both'"):
        job("both")
    with pytest.raises(ValueError, match="time_limit"):
        job(time_limit=0)


def test_report_fields_are_the_interface() -> None:
    names = set(WorkerReport.__dataclass_fields__)
    assert {
        "outcome",
        "exit_status",
        "channel",
        "fallbacks",
        "mismatches",
        "events",
        "first_event_latency",
        "result",
    } <= names
