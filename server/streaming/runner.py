"""The supervisor of one auditor process: spawn, read its channels, enforce its limits, reap it.

    report = await run_worker(job, sink, RunnerConfig())

The worker runs as `python -m veritas URL ... --ipc MODE [--ipc-fd N]` in its own process
group. Its stdout and stderr are plain pipes made here (not asyncio's subprocess pipes),
so `Process.wait()` returns when the worker exits even if one of its own children still
holds those pipes open; the wait for their end of stream is then bounded. Reading,
de-duplication and fallback are the `Intake`'s job (server/streaming/intake.py).

The worker dies with the server: on Linux it is spawned with the parent-death signal set
to SIGKILL (`prctl(PR_SET_PDEATHSIG)` between fork and exec), so even a SIGKILLed server
leaves no auditor running that a restart would not know of. (The signal follows the
worker through `exec`; the worker's own children are its business.)

Whatever happens, the sink gets `audit_started` once the process runs (unless the spawn
failed) and exactly one terminal event last.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import random
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from protocol import exits
from protocol.events import IPC_MODES, TIERS, VERDICT_MODES, new_event
from protocol.framing import DEFAULT_MAX_FRAME_SIZE
from protocol.jsonlines import DEFAULT_MAX_LINE_SIZE
from protocol.targets import Endpoint
from server.errors import ServerError
from server.streaming.intake import (
    DEFAULT_COMPARE_LIMIT,
    DEFAULT_LOG_LINE_CHARS,
    DEFAULT_LOG_LINES,
    DEFAULT_REORDER_LIMIT,
    EventSink,
    Intake,
    IntakeLimits,
)

__all__ = [
    "EventSink",
    "RunnerConfig",
    "RunnerError",
    "SpawnFailed",
    "WorkerJob",
    "WorkerReport",
    "choose_ipc_mode",
    "run_worker",
]

logger: Final = logging.getLogger("server.worker")

DEFAULT_PIPE_SIZE: Final = 1024 * 1024
# Errors that say the command itself cannot run; anything else from a spawn that passes
# the pipe is blamed on the pipe, and the spawn is tried once more without it.
_COMMAND_ERRNOS: Final = frozenset({errno.ENOENT, errno.EACCES, errno.ENOTDIR, errno.ENOEXEC})


_SIZE_FIELDS: Final = (
    "max_frame_size",
    "max_line_size",
    "stderr_tail_lines",
    "reorder_limit",
    "compare_limit",
    "log_lines",
    "log_line_chars",
    "pipe_size",
)


class RunnerError(ServerError):
    """What can go wrong starting or supervising a worker."""


class SpawnFailed(RunnerError):
    """The worker process could not be started."""


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    worker_command: tuple[str, ...] = (sys.executable, "-m", "veritas")
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_line_size: int = DEFAULT_MAX_LINE_SIZE
    stderr_tail_lines: int = 40  # kept for the crash message
    grace_seconds: float = 2.0  # SIGTERM -> SIGKILL of the process group
    allow_private_targets: bool = False  # VERITAS_ALLOW_PRIVATE_TARGETS=1 for the worker
    allow_targets: frozenset[Endpoint] = frozenset()  # VERITAS_ALLOW_TARGETS for the worker
    extra_env: Mapping[str, str] = field(default_factory=dict)
    reorder_limit: int = DEFAULT_REORDER_LIMIT
    compare_limit: int = DEFAULT_COMPARE_LIMIT
    log_lines: int = DEFAULT_LOG_LINES
    log_line_chars: int = DEFAULT_LOG_LINE_CHARS
    pipe_size: int = DEFAULT_PIPE_SIZE  # F_SETPIPE_SZ: big frames pass in fewer wake-ups
    eof_wait_seconds: float = 2.0  # after exit, for the channels' end of stream
    pipe_factory: Callable[[], tuple[int, int]] = os.pipe  # the ipc pipe (tests inject EMFILE)

    def __post_init__(self) -> None:
        if not self.worker_command:
            raise ValueError("worker_command must name a program")
        for name in _SIZE_FIELDS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("grace_seconds", "eof_wait_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def intake_limits(self) -> IntakeLimits:
        return IntakeLimits(
            max_frame_size=self.max_frame_size,
            max_line_size=self.max_line_size,
            reorder_limit=self.reorder_limit,
            compare_limit=self.compare_limit,
            stderr_tail_lines=self.stderr_tail_lines,
            log_lines=self.log_lines,
            log_line_chars=self.log_line_chars,
        )


@dataclass(frozen=True, slots=True)
class WorkerJob:
    audit_id: str
    url: str
    tier: str
    verdict_mode: str
    security_modules: tuple[str, ...] | None
    ipc: str  # "pipe" | "stdout" | "validate": the mode already chosen by the caller
    time_limit: float  # seconds, then SIGTERM, grace, SIGKILL, and audit_error "timeout"
    connect_to: tuple[str, ...] = ()  # --connect-to rules, already validated
    ca_pem: str | None = None  # CA certificates for --ca-file, written to a file per run

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("ipc", self.ipc, IPC_MODES),
            ("tier", self.tier, TIERS),
            ("verdict_mode", self.verdict_mode, VERDICT_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0, got {self.time_limit}")


@dataclass(frozen=True, slots=True)
class WorkerReport:
    outcome: str  # "complete" or one of protocol ERROR_CODES
    exit_status: int | None  # negative: killed by that signal
    channel: str  # the channel the events finally came from: "pipe" or "stdout"
    fallbacks: tuple[str, ...]  # reasons, in order
    mismatches: int  # validate mode: events that differed between the channels
    events: int  # worker events accepted
    first_event_latency: float | None  # seconds from spawn to the first accepted event
    result: Mapping[str, Any] | None  # the audit_result's `result` map
    mode: str = "pipe"  # the mode the audit was asked to run in
    pid: int | None = None
    duplicates: int = 0  # copies dropped by seq (validate mode, re-sends after a fallback)
    gaps: int = 0  # missing seqs skipped to keep the order
    elapsed: float = 0.0  # seconds from spawn to the terminal event
    error: str | None = None  # the terminal audit_error's message


def choose_ipc_mode(
    requested: str | None, env_mode: str | None, rollout: float, rng: random.Random
) -> str:
    """The request's `ipc` field, else VERITAS_IPC_MODE, else the pipe for a `rollout` share."""
    for source, mode in (("ipc", requested), ("VERITAS_IPC_MODE", env_mode)):
        if mode:
            if mode not in IPC_MODES:
                raise ValueError(f"{source}: {mode!r} is not one of {', '.join(IPC_MODES)}")
            return mode
    if not 0.0 <= rollout <= 1.0:
        raise ValueError(f"VERITAS_IPC_ROLLOUT must be between 0 and 1, got {rollout}")
    return "pipe" if rng.random() < rollout else "stdout"


async def run_worker(job: WorkerJob, sink: EventSink, config: RunnerConfig) -> WorkerReport:
    """Spawn, supervise and reap one auditor. Appends to `sink`, in this order:
    `audit_started` (pid) once the process runs; every worker event exactly once, in seq order;
    `ipc_fallback` (reason, from, to) at the moment a fallback happens; and exactly one terminal
    event (`audit_complete` with elapsed, or `audit_error` with code and a message a user can act
    on) last, in every case: spawn failure (spawn_failed), crash/non-zero exit or signal (crashed,
    with exit status and the last stderr lines), time limit (timeout), exit 0 without an
    audit_result (no_result). On cancellation (the caller cancels the task: DELETE /audits/{id},
    server shutdown) it kills the process group (SIGTERM, grace, SIGKILL), appends audit_error
    code "cancelled", reaps the child, then re-raises CancelledError. It never raises anything
    else."""
    try:
        with _ca_file(job.ca_pem) as ca_file:
            return await _Supervision(job, sink, config, ca_file).run()
    except OSError as exc:  # the CA file could not be written: nothing was spawned
        message = f"could not write the CA certificates for the worker: {exc}"
        return _Supervision(job, sink, config, None)._end("spawn_failed", message)


@contextlib.contextmanager
def _ca_file(pem: str | None) -> Iterator[Path | None]:
    """The PEM in a private file for the worker's --ca-file, removed when the run ends."""
    if pem is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="veritas-ca-") as directory:
        path = Path(directory) / "ca.pem"
        path.write_text(pem, encoding="ascii")
        yield path


class _Supervision:
    """The state of one run: what was spawned, how it ended, and the one terminal event."""

    def __init__(
        self, job: WorkerJob, sink: EventSink, config: RunnerConfig, ca_file: Path | None
    ) -> None:
        self.job = job
        self.ca_file = ca_file
        self.sink = sink
        self.config = config
        self.intake = Intake(
            sink, audit_id=job.audit_id, mode=job.ipc, limits=config.intake_limits()
        )
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.pid: int | None = None
        self.exit_status: int | None = None
        self.timed_out = False

    async def run(self) -> WorkerReport:
        try:
            process = await self._spawn()
        except SpawnFailed as exc:
            return self._end("spawn_failed", str(exc))
        except asyncio.CancelledError:
            self._end("cancelled", "the audit was cancelled")
            raise
        except Exception as exc:  # the promise is to never raise: report, do not crash the server
            logger.exception("audit %s: unexpected error starting the worker", self.job.audit_id)
            return self._end("spawn_failed", f"the worker could not be started: {exc!r}")
        try:
            await self._watch(process)
        except asyncio.CancelledError:
            await self._stop(process)
            raise
        except Exception as exc:
            logger.exception("audit %s: unexpected error supervising the worker", self.job.audit_id)
            await self._kill(process)
            return self._end("crashed", f"the server lost track of the worker: {exc!r}")
        return self._conclude()

    # -- spawn ----------------------------------------------------------------------------

    async def _spawn(self) -> asyncio.subprocess.Process:
        fds = _Fds()
        try:
            stdout = fds.pipe(_os_pipe, "stdout")
            stderr = fds.pipe(_os_pipe, "stderr")
            ipc = self._ipc_pipe(fds)
            process, ipc = await self._exec(fds, stdout[1], stderr[1], ipc)
        except BaseException:
            fds.close_all()
            raise
        # The child has its copies of the write ends; ours would hide its end of stream.
        fds.close(stdout[1], stderr[1], *(ipc[1:] if ipc else ()))
        self.pid = process.pid
        # Before the intake reads anything: the worker's events come after this one.
        self.sink.append(new_event("audit_started", 0, pid=process.pid))
        await self._open_intake(process, stdout[0], stderr[0], ipc[0] if ipc else None, fds)
        return process

    def _ipc_pipe(self, fds: _Fds) -> tuple[int, int] | None:
        if self.job.ipc == "stdout":
            return None
        if os.name != "posix":
            self.intake.pipe_unavailable("this platform cannot pass a pipe to the worker")
            return None
        try:
            read_end, write_end = fds.pipe(lambda _: self.config.pipe_factory(), "ipc")
        except OSError as exc:
            self.intake.pipe_unavailable(f"could not create the ipc pipe: {exc}")
            return None
        _grow_pipe(write_end, self.config.pipe_size)
        return read_end, write_end

    async def _exec(
        self, fds: _Fds, stdout: int, stderr: int, ipc: tuple[int, int] | None
    ) -> tuple[asyncio.subprocess.Process, tuple[int, int] | None]:
        """Spawn; with the pipe if there is one, and without it if only the pipe is to blame."""
        try:
            return await self._exec_once(stdout, stderr, ipc[1] if ipc else None), ipc
        except OSError as exc:
            if ipc is None or exc.errno in _COMMAND_ERRNOS:
                raise SpawnFailed(_spawn_message(self.config.worker_command, exc)) from exc
            fds.close(*ipc)
            self.intake.pipe_unavailable(f"could not pass the ipc pipe to the worker: {exc}")
        try:
            return await self._exec_once(stdout, stderr, None), None
        except OSError as exc:
            raise SpawnFailed(_spawn_message(self.config.worker_command, exc)) from exc

    async def _exec_once(
        self, stdout: int, stderr: int, ipc_fd: int | None
    ) -> asyncio.subprocess.Process:
        mode = self.job.ipc if ipc_fd is not None else "stdout"
        self.started = self.loop.time()
        return await asyncio.create_subprocess_exec(
            *self.config.worker_command,
            *_worker_args(self.job, mode, ipc_fd, self.ca_file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(ipc_fd,) if ipc_fd is not None else (),
            start_new_session=True,
            env=_worker_env(self.config, ipc_fd),
            preexec_fn=_die_with_server(),
        )

    async def _open_intake(
        self,
        process: asyncio.subprocess.Process,
        stdout: int,
        stderr: int,
        ipc: int | None,
        fds: _Fds,
    ) -> None:
        fds.release(stdout, stderr, *([ipc] if ipc is not None else []))  # the intake's now
        try:
            await self.intake.open(stdout_fd=stdout, stderr_fd=stderr, ipc_fd=ipc)
        except BaseException as exc:
            await self._kill(process)
            if isinstance(exc, OSError):
                raise SpawnFailed(f"could not read the worker's output: {exc}") from exc
            raise

    # -- supervision ----------------------------------------------------------------------

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        remaining = self.job.time_limit - (self.loop.time() - self.started)
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                self.exit_status = await process.wait()
        except TimeoutError:
            self.timed_out = True
            self.exit_status = await _terminate(process, self.config.grace_seconds)
        # What the worker left behind in its group would only hold the pipes open.
        _signal_group(process, signal.SIGKILL)
        await self.intake.wait_closed(within=self.config.eof_wait_seconds)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """Cancelled: stop reading, stop the process group, reap, then the one terminal event."""
        self.intake.close()
        try:
            if process.returncode is None:
                self.exit_status = await _terminate(process, self.config.grace_seconds)
        finally:
            # Cancelled again during the grace: no more waiting, but nothing left running.
            _signal_group(process, signal.SIGKILL)
            self._end("cancelled", "the audit was cancelled")

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        self.intake.close()
        _signal_group(process, signal.SIGKILL)
        self.exit_status = await process.wait()

    # -- the end --------------------------------------------------------------------------

    def _conclude(self) -> WorkerReport:
        clean_exit = self.exit_status == 0 and not self.timed_out
        self.intake.finish(count_unmatched=clean_exit)
        if self.timed_out:
            limit = f"{self.job.time_limit:g}"
            return self._end("timeout", f"the audit exceeded its time limit of {limit} s")
        if self.exit_status == exits.NO_RESULT:
            # The worker ran and said why it could not conclude (a refused or unreachable target).
            message = "the audit produced no result" + self._worker_excerpt()
            return self._end("no_result", message)
        if self.exit_status != 0:
            return self._end("crashed", self._crash_message())
        if self.intake.result is None:
            message = "the worker exited without producing a result" + self._worker_excerpt()
            return self._end("no_result", message)
        return self._end("complete", None)

    def _crash_message(self) -> str:
        status = self.exit_status
        if status is not None and status < 0:
            what = f"the worker was killed by {_signal_name(-status)}"
        else:
            what = f"the worker exited with status {status}"
        return what + self._worker_excerpt()

    def _worker_excerpt(self) -> str:
        reported = self.intake.last_error
        said = f" after reporting: {reported}" if reported else ""
        return said + self._stderr_excerpt()

    def _stderr_excerpt(self) -> str:
        tail = self.intake.stderr_tail
        if not tail:
            return "; it wrote nothing to stderr"
        return f"; the last {len(tail)} lines of its stderr:\n" + "\n".join(tail)

    def _end(self, outcome: str, error: str | None) -> WorkerReport:
        self.intake.close()
        elapsed = max(self.loop.time() - self.started, 0.0)
        if outcome == "complete":
            self.sink.append(new_event("audit_complete", 0, elapsed=elapsed))
        else:
            self.sink.append(new_event("audit_error", 0, error=error or outcome, code=outcome))
        return self._report(outcome, elapsed, error)

    def _report(self, outcome: str, elapsed: float, error: str | None) -> WorkerReport:
        intake, sequencer = self.intake, self.intake.sequencer
        first = intake.first_event_at
        return WorkerReport(
            outcome=outcome,
            exit_status=self.exit_status,
            channel=intake.channel,
            fallbacks=tuple(intake.fallbacks),
            mismatches=sequencer.mismatches,
            events=sequencer.accepted,
            first_event_latency=None if first is None else first - self.started,
            result=intake.result,
            mode=self.job.ipc,
            pid=self.pid,
            duplicates=sequencer.duplicates,
            gaps=sequencer.gaps,
            elapsed=elapsed,
            error=error,
        )


async def _terminate(process: asyncio.subprocess.Process, grace: float) -> int:
    """SIGTERM to the group, `grace` seconds to go, then SIGKILL; the exit status."""
    _signal_group(process, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            return await process.wait()
    except TimeoutError:
        _signal_group(process, signal.SIGKILL)
        return await process.wait()


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # The worker leads its own group (start_new_session); the group outlives the leader
    # while any child of it runs, and its id cannot be reused until then.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    if process.returncode is None:
        # The worker may have left its group. os.kill, not Process.send_signal: the latter
        # polls first, and that poll reaps an exited worker behind the event loop's back
        # (which then reports exit status 255 instead of the real one).
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


_PR_SET_PDEATHSIG: Final = 1


def _die_with_server() -> Callable[[], None] | None:
    """What the child runs between fork and exec: ask the kernel to SIGKILL it when the
    server dies. None where there is no `prctl` (the worker then outlives a killed server)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    server = os.getpid()

    def arm() -> None:  # in the child: no allocation-heavy work, no logging
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != server:  # the server died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def _worker_args(
    job: WorkerJob, mode: str, ipc_fd: int | None, ca_file: Path | None = None
) -> list[str]:
    args = [job.url, "--tier", job.tier, "--verdict-mode", job.verdict_mode]
    if job.security_modules is not None:
        args += ["--security-modules", ",".join(job.security_modules)]
    for rule in job.connect_to:
        args += ["--connect-to", rule]
    if ca_file is not None:
        args += ["--ca-file", str(ca_file)]
    args += ["--ipc", mode]
    if ipc_fd is not None:
        args += ["--ipc-fd", str(ipc_fd)]
    return args


def _worker_env(config: RunnerConfig, ipc_fd: int | None) -> dict[str, str]:
    env = {**os.environ, **config.extra_env}
    # The server's choices, not whatever its own environment happens to hold.
    for name in (
        "VERITAS_IPC_FD",
        "VERITAS_IPC_MODE",
        "VERITAS_ALLOW_PRIVATE_TARGETS",
        "VERITAS_ALLOW_TARGETS",
    ):
        env.pop(name, None)
    if ipc_fd is not None:
        env["VERITAS_IPC_FD"] = str(ipc_fd)
    if config.allow_private_targets:
        env["VERITAS_ALLOW_PRIVATE_TARGETS"] = "1"
    if config.allow_targets:
        env["VERITAS_ALLOW_TARGETS"] = ",".join(
            f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for a, p in sorted(config.allow_targets)
        )
    return env


class _Fds:
    """The pipe ends the server holds until the child and the intake have theirs: each closed
    exactly once, whatever fails on the way."""

    def __init__(self) -> None:
        self._open: set[int] = set()

    def pipe(self, make: Callable[[str], tuple[int, int]], name: str) -> tuple[int, int]:
        ends = make(name)
        self._open.update(ends)
        return ends

    def close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def release(self, *fds: int) -> None:
        self._open.difference_update(fds)

    def close_all(self) -> None:
        self.close(*self._open)


def _os_pipe(name: str) -> tuple[int, int]:
    try:
        return os.pipe()
    except OSError as exc:
        raise SpawnFailed(f"could not create the worker's {name} pipe: {exc}") from exc


def _grow_pipe(fd: int, size: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError) as exc:
        # A smaller pipe only costs wake-ups; the system limit may be below our wish.
        logger.debug("could not set the ipc pipe size to %d: %s", size, exc)


def _spawn_message(command: tuple[str, ...], exc: OSError) -> str:
    return f"could not start the worker ({' '.join(command[:3])}): {exc.strerror or exc}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
