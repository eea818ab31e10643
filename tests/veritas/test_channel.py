"""The event channels of a real `python -m veritas` process: pipe, stdout, validate, fallback."""

from __future__ import annotations

import os
import signal
import time

import pytest

from protocol.events import Event, to_wire
from tests.veritas.worker import Reader, kill, run_worker, start

QUICK = ["--tier", "quick_scan"]


def seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


def assert_complete(events: list[Event]) -> None:
    """1..n in order, hello first, audit_result last."""
    assert seqs(events) == list(range(1, len(events) + 1))
    assert events[0].type == "hello"
    assert events[-1].type == "audit_result"


def test_pipe_mode_delivers_every_event_as_frames_and_nothing_on_stdout(site_url: str) -> None:
    run = run_worker([site_url + "/", *QUICK], mode="pipe")
    assert run.returncode == 0, run.stderr
    assert_complete(run.pipe)
    assert run.stdout == []
    assert run.foreign == []
    assert run.pipe[0]["ipc"] == "pipe"
    assert run.pipe[0]["pid"] > 0


def test_stdout_mode_delivers_every_event_as_json_lines(site_url: str) -> None:
    run = run_worker([site_url + "/", *QUICK], mode="stdout")
    assert run.returncode == 0, run.stderr
    assert_complete(run.stdout)
    assert run.stdout[0]["ipc"] == "stdout"
    assert run.foreign == []


def test_validate_mode_writes_identical_sequences_on_both_channels(site_url: str) -> None:
    run = run_worker([site_url + "/", *QUICK], mode="validate")
    assert run.returncode == 0, run.stderr
    assert_complete(run.pipe)
    assert [to_wire(e) for e in run.pipe] == [to_wire(e) for e in run.stdout]
    assert run.pipe[0]["ipc"] == "validate"


def test_reader_closing_the_pipe_moves_the_rest_and_a_replay_to_stdout(site_url: str) -> None:
    k = 3

    def close_after_k_frames(reader: Reader) -> None:
        if reader.pipe_fd is not None and len(reader.run.pipe) >= k:
            del reader.run.pipe[k:]  # what arrived after the close is not counted as read
            reader.close_pipe()

    # The entry page answers late, so events keep coming after the reader has closed.
    run = run_worker([site_url + "/slow/", *QUICK], mode="pipe", hook=close_after_k_frames)
    assert run.returncode == 0, run.stderr
    assert seqs(run.pipe) == list(range(1, k + 1))
    assert run.stdout[0].seq == 1, "the replay starts from the first event"
    assert_complete(run.merged())
    stdout_seqs = seqs(run.stdout)
    assert stdout_seqs == list(range(1, len(stdout_seqs) + 1))
    warnings = [line for line in run.stderr.splitlines() if "switching to stdout" in line]
    assert len(warnings) == 1, run.stderr


def test_a_bad_fd_at_start_sends_everything_to_stdout_from_the_first_event(
    site_url: str,
) -> None:
    run = run_worker([site_url + "/", *QUICK, "--ipc", "pipe", "--ipc-fd", "97"])
    assert run.returncode == 0, run.stderr
    assert_complete(run.stdout)
    assert run.stdout[0]["ipc"] == "stdout"
    assert "ipc fd 97 cannot be used" in run.stderr


def test_the_fd_can_come_from_the_environment(site_url: str) -> None:
    read_fd, write_fd = os.pipe()
    proc = start([site_url + "/", *QUICK], {"VERITAS_IPC_FD": str(write_fd)}, pass_fds=[write_fd])
    os.close(write_fd)
    try:
        run = Reader(proc, read_fd).read_all(None, time.monotonic() + 60)
    finally:
        kill(proc)
    assert run.returncode == 0, run.stderr
    assert_complete(run.pipe)


def test_a_stray_print_never_reaches_the_stdout_channel(site_url: str) -> None:
    run = run_worker([site_url + "/", *QUICK, "--help"], mode="stdout")
    assert run.returncode == 0
    assert run.foreign == [] and run.stdout == []
    assert "usage: veritas" in run.stderr


def test_sigterm_stops_the_audit_promptly_and_flushes_pending_events(site_url: str) -> None:
    sent: list[float] = []

    def terminate_once_scouting(reader: Reader) -> None:
        if not sent and any(
            e.type == "phase_start" and e["phase"] == "scout" for e in reader.run.stdout
        ):
            sent.append(time.monotonic())
            reader.proc.send_signal(signal.SIGTERM)

    # A page that drips forever: without the signal the audit would run to its page limit.
    env = {"VERITAS_PAGE_TIMEOUT": "60"}
    run = run_worker([site_url + "/drip", *QUICK], env, mode="stdout", hook=terminate_once_scouting)
    elapsed = time.monotonic() - sent[0]
    assert run.returncode == 143, run.stderr
    # The contract is 2 s; the margin is for a loaded test machine, not for the worker.
    assert elapsed < 5
    assert_sequence = seqs(run.stdout)
    assert assert_sequence == list(range(1, len(assert_sequence) + 1))
    assert run.stdout[-1].type == "log_entry"
    assert "SIGTERM" in run.stdout[-1]["message"]


@pytest.mark.parametrize("mode", ["pipe", "validate"])
def test_every_event_of_a_full_audit_survives_both_modes(site_url: str, mode: str) -> None:
    run = run_worker([site_url + "/", "--tier", "deep_forensic"], mode=mode)
    assert run.returncode == 0, run.stderr
    assert_complete(run.merged())
    types = {e.type for e in run.merged()}
    assert {
        "phase_start",
        "phase_complete",
        "log_entry",
        "stats_update",
        "security_result",
    } <= types
