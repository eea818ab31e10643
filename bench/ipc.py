"""IPC benchmark: one child's event stream into the server's event log, three ways.

    python -m bench.ipc [--quick | --smoke] [--repeats N]

Systems, run interleaved (one run of each, then again):
  pipe      ours: msgpack frames on a `pass_fds` pipe, read by `server.streaming.intake.Intake`
  stdout    ours: `##VERITAS ` JSON lines on stdout, read by the same `Intake`
  manager   the design replaced: `Manager().Queue(1000)`, `await asyncio.to_thread(q.get)`
Every event goes through protocol validation and into `server.streaming.log.AuditLog`
(encoded to SSE bytes once), which is what the server does with it. The reader is this
process, so its CPU is `time.process_time()`; the child reports its own CPU in its final event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgpack

from bench import cli, mpqueue
from bench.recorder import Recorder
from bench.stats import Table, fmt, goal, median, percentile, ratio
from bench.stream import SCREENSHOT_BYTES, EventStream
from server.streaming.intake import Intake, IntakeLimits
from server.streaming.log import AuditLog, LogLimits

ROOT: Final = Path(__file__).resolve().parent.parent
SYSTEMS: Final = ("pipe", "stdout", "manager")
PIPE_SIZE: Final = 1024 * 1024  # F_SETPIPE_SZ: big frames cross in fewer reads
RUN_LIMIT_SECONDS: Final = 120.0
PACED_RATE: Final = 1000.0


@dataclass(frozen=True, slots=True)
class Sizes:
    flood: int  # small events per flood run (ours)
    flood_manager: int  # the baseline is ~50x slower: fewer events, same steady rate
    shots: int  # 200 KiB screenshot events per run (ours)
    shots_manager: int
    paced: int  # events at PACED_RATE for latency
    repeats: int


SIZES: Final = {
    "smoke": Sizes(2000, 500, 20, 10, 200, 1),
    "quick": Sizes(100_000, 8000, 300, 100, 2000, 3),
    "full": Sizes(200_000, 20_000, 1000, 300, 5000, 5),
}


@dataclass
class Run:
    """One run of one system: the recorder's view plus CPU seconds on each side."""

    events: int
    seconds: float  # first event to last, at the log
    first_event_ms: float  # spawn started -> first event in the log
    reader_cpu: float
    child_cpu: float
    latencies_ns: list[int] = field(default_factory=list)


def event_bytes(screenshots: bool) -> float:
    """Mean msgpack size of the stream's events: the payload each system carries."""
    stream = EventStream(screenshots=screenshots)
    sizes = [len(msgpack.packb(stream.event(seq), use_bin_type=True)) for seq in range(2, 10)]
    return sum(sizes) / len(sizes)


def new_log(count: int, screenshots: bool) -> AuditLog:
    per_event = SCREENSHOT_BYTES * 2 if screenshots else 4096
    return AuditLog("bench", LogLimits(max_events=count + 16, max_bytes=(count + 16) * per_event))


async def run_ours(mode: str, count: int, rate: float, screenshots: bool) -> Run:
    recorder = Recorder(new_log(count, screenshots))
    intake = Intake(recorder, audit_id="bench", mode=mode, limits=IntakeLimits())
    ipc = _pipe(PIPE_SIZE) if mode == "pipe" else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    args = ["--ipc", mode, "--count", str(count), "--rate", str(rate)]
    args += ["--ipc-fd", str(ipc[1])] if ipc else []
    args += ["--screenshots"] if screenshots else []
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.emitter", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=out_w, stderr=err_w,
        pass_fds=(ipc[1],) if ipc else (), cwd=ROOT,
    )  # fmt: skip
    for fd in (out_w, err_w, *(ipc[1:] if ipc else ())):
        os.close(fd)
    await intake.open(stdout_fd=out_r, stderr_fd=err_r, ipc_fd=ipc[0] if ipc else None)
    try:
        await asyncio.wait_for(proc.wait(), RUN_LIMIT_SECONDS)
        await intake.wait_closed(within=5.0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        intake.finish(count_unmatched=False)
    return _finish(recorder, t0, cpu0, count, f"{mode} emitter exited {proc.returncode}")


def _pipe(size: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    # Above /proc/sys/fs/pipe-max-size the call fails; the default size still works.
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, size)
    return read_end, write_end


async def run_manager(count: int, rate: float, screenshots: bool) -> Run:
    recorder = Recorder(new_log(count, screenshots))
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    queue_run = await mpqueue.run(recorder, count, rate, screenshots, RUN_LIMIT_SECONDS)
    run = _finish(recorder, t0, cpu0, count, "manager producer")
    run.child_cpu += queue_run.manager_cpu
    return run


def _finish(recorder: Recorder, t0: int, cpu0: float, count: int, what: str) -> Run:
    reader_cpu = time.process_time() - cpu0
    if recorder.result is None or recorder.first_ns is None or recorder.count != count + 2:
        raise RuntimeError(f"{what}: {recorder.count} of {count + 2} events arrived")
    return Run(
        events=count,
        seconds=(recorder.last_ns - recorder.first_ns) / 1e9,
        first_event_ms=(recorder.first_ns - t0) / 1e6,
        reader_cpu=reader_cpu,
        child_cpu=float(recorder.result["emitter_cpu_s"]),
        latencies_ns=recorder.latencies_ns,
    )


async def run_one(system: str, kind: str, sizes: Sizes) -> Run:
    manager = system == "manager"
    if kind == "flood":
        count = sizes.flood_manager if manager else sizes.flood
        rate, shots = 0.0, False
    elif kind == "shots":
        count = sizes.shots_manager if manager else sizes.shots
        rate, shots = 0.0, True
    else:
        count, rate, shots = sizes.paced, PACED_RATE, False
    if manager:
        return await run_manager(count, rate, shots)
    return await run_ours(system, count, rate, shots)


async def measure(sizes: Sizes, systems: Sequence[str]) -> dict[tuple[str, str], list[Run]]:
    runs: dict[tuple[str, str], list[Run]] = {}
    for _ in range(sizes.repeats):
        for kind in ("flood", "shots", "paced"):
            for system in systems:
                runs.setdefault((system, kind), []).append(await run_one(system, kind, sizes))
    return runs


@dataclass(frozen=True, slots=True)
class Row:
    events_s: float
    mb_s: float
    shots_mb_s: float
    p50_us: float
    p99_us: float
    first_ms: float
    reader_us: float
    child_us: float


def summarize(runs: dict[tuple[str, str], list[Run]], system: str) -> Row:
    flood, shots, paced = (runs[(system, k)] for k in ("flood", "shots", "paced"))
    small, big = event_bytes(False), event_bytes(True)
    every = flood + shots + paced
    return Row(
        events_s=median([r.events / r.seconds for r in flood]),
        mb_s=median([r.events * small / r.seconds / 1e6 for r in flood]),
        shots_mb_s=median([r.events * big / r.seconds / 1e6 for r in shots]),
        p50_us=median([percentile(r.latencies_ns, 50) / 1e3 for r in paced]),
        p99_us=median([percentile(r.latencies_ns, 99) / 1e3 for r in paced]),
        first_ms=median([r.first_event_ms for r in every]),
        reader_us=median([r.reader_cpu / r.events * 1e6 for r in flood]),
        child_us=median([r.child_cpu / r.events * 1e6 for r in flood]),
    )


def report(rows: dict[str, Row], sizes: Sizes, mode: str) -> str:
    table = Table(
        f"IPC: child process -> server event log ({mode}, medians of {sizes.repeats} runs)",
        ("system", "events/s", "MB/s", "MB/s 200KiB", "p50 us", "p99 us", "spawn->1st ms",
         "reader us/ev", "child us/ev"),
    )  # fmt: skip
    for system, row in rows.items():
        table.add(
            system, fmt(row.events_s), fmt(row.mb_s, 1), fmt(row.shots_mb_s, 1),
            fmt(row.p50_us), fmt(row.p99_us), fmt(row.first_ms, 1),
            fmt(row.reader_us, 2), fmt(row.child_us, 2),
        )  # fmt: skip
    base = rows.get("manager")
    for system in ("pipe", "stdout"):
        if base is not None and system in rows:
            table.note(_ratios(system, rows[system], base))
    table.note(
        f"flood: {sizes.flood:,} events (manager {sizes.flood_manager:,}), 200 KiB run: "
        f"{sizes.shots} (manager {sizes.shots_manager}), paced: {sizes.paced:,} at "
        f"{PACED_RATE:,.0f}/s; latency = child monotonic_ns stamp -> event in the log"
    )
    if base is not None and "pipe" in rows:
        times = ratio(rows["pipe"].events_s, base.events_s)
        table.note(f"goal pipe >= 50x manager events/s: {fmt(times, 1)}x, {goal(times >= 50)}")
    return table.render()


def _ratios(system: str, row: Row, base: Row) -> str:
    return (
        f"{system} / manager: events/s {fmt(ratio(row.events_s, base.events_s), 1)}x, "
        f"200 KiB MB/s {fmt(ratio(row.shots_mb_s, base.shots_mb_s), 1)}x, "
        f"p99 {fmt(ratio(row.p99_us, base.p99_us), 2)}x, "
        f"spawn->1st {fmt(ratio(row.first_ms, base.first_ms), 2)}x"
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = cli.parser("python -m bench.ipc", __doc__)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    systems = [s for s in args.systems.split(",") if s in SYSTEMS]
    runs = asyncio.run(measure(sizes, systems))
    rows = {system: summarize(runs, system) for system in systems}
    print(report(rows, sizes, mode), flush=True)
    return 0 if all(not math.isnan(r.events_s) for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
