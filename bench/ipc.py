"""IPC benchmark: one child's event stream into the server's event log, three ways.

    python -m bench.ipc [--quick | --smoke] [--repeats N]

Systems, run interleaved (one run of each, then again):
  pipe      ours: msgpack frames on a `pass_fds` pipe, read by `server.streaming.intake.Intake`
  pipe+sqlite        the same, the log on the server's `SQLiteStore` (synchronous=FULL):
                     events count once committed, as subscribers see them (group commit)
  pipe+sqlite-early  the same store, events visible before their commit (the old order)
  stdout    ours: `##VERITAS ` JSON lines on stdout, read by the same `Intake`
  manager   the design replaced: `Manager().Queue(1000)`, `await asyncio.to_thread(q.get)`
  pipe-raw  the pipe's own limit: the same child and pipe, the reader only counts bytes
            (no decoding, nothing kept; flood runs only)
A system named `SYSTEM@uvloop` (e.g. `pipe@uvloop`, on request) is that system with the
reader on uvloop, as `python -m server --loop uvloop` runs it.
Every event goes through protocol validation and into `server.streaming.log.AuditLog`
(encoded to SSE bytes once), which is what the server does with it. The reader is this
process, so its CPU is `time.process_time()`; the child reports its own CPU in its final event.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgpack

from bench import child, cli, mpqueue
from bench.recorder import RecordedLog, Recorder
from bench.stats import Table, fmt, goal, median, percentile, ratio
from bench.stream import SCREENSHOT_BYTES, EventStream
from server.__main__ import event_loop_factory
from server.stores.sqlite import SQLiteStore
from server.stores.store import Store
from server.streaming.intake import Intake, IntakeLimits
from server.streaming.log import LogLimits

SYSTEMS: Final = ("pipe", "pipe+sqlite", "pipe+sqlite-early", "stdout", "manager", "pipe-raw")
RAW: Final = "pipe-raw"
STORES: Final = {"pipe+sqlite": True, "pipe+sqlite-early": False}  # durable visibility
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
    seconds: float  # the first event made (in the child) to the last visible in the log
    first_event_ms: float  # spawn started -> first event in the log
    reader_cpu: float
    child_cpu: float
    latencies_ns: list[int] = field(default_factory=list)


def event_bytes(screenshots: bool) -> float:
    """Mean msgpack size of the stream's events: the payload each system carries."""
    stream = EventStream(screenshots=screenshots)
    sizes = [len(msgpack.packb(stream.event(seq), use_bin_type=True)) for seq in range(2, 10)]
    return sum(sizes) / len(sizes)


def new_recorder(
    count: int, screenshots: bool, store: Store | None = None, durable: bool = True
) -> Recorder:
    per_event = SCREENSHOT_BYTES * 2 if screenshots else 4096
    limits = LogLimits(max_events=count + 16, max_bytes=(count + 16) * per_event)
    log = RecordedLog("bench", limits, store, durable_visibility=durable)
    recorder = log.recorder = Recorder(log)
    return recorder


async def run_stored(system: str, count: int, rate: float, screenshots: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="veritas-ipc-") as folder:
        store = SQLiteStore(Path(folder) / "bench.sqlite3")
        await store.open()
        try:
            recorder = new_recorder(count, screenshots, store, STORES[system])
            return await run_ours("pipe", count, rate, screenshots, recorder=recorder, store=store)
        finally:
            await store.close()


async def run_ours(
    mode: str,
    count: int,
    rate: float,
    screenshots: bool,
    *,
    recorder: Recorder | None = None,
    store: Store | None = None,
) -> Run:
    recorder = recorder or new_recorder(count, screenshots)
    intake = Intake(recorder, audit_id="bench", mode=mode, limits=IntakeLimits())
    args = ["--ipc", mode, "--count", str(count), "--rate", str(rate)]
    args += ["--screenshots"] if screenshots else []
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    spawned = await child.spawn("bench.emitter", args, ipc=mode == "pipe")
    try:
        await child.read_all(spawned, intake, limit=RUN_LIMIT_SECONDS)
    finally:
        if store is not None:
            await store.flush()  # the last batch becomes visible
    exited = spawned.process.returncode
    return _finish(recorder, t0, cpu0, count, f"{mode} emitter exited {exited}")


class ByteCounter(asyncio.Protocol):
    """Reads a pipe to its end, noting only how many bytes came and when."""

    def __init__(self) -> None:
        self.bytes = 0
        self.first_ns = self.last_ns = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.last_ns = time.monotonic_ns()
        self.first_ns = self.first_ns or self.last_ns
        self.bytes += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run_raw(count: int) -> Run:
    """The flood's frames through the same pipe into a reader that does nothing with them."""
    read_end, write_end = child.grown_pipe(PIPE_SIZE)
    args = ["--ipc", "pipe", "--ipc-fd", str(write_end), "--count", str(count), "--rate", "0"]
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.emitter", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        pass_fds=(write_end,), cwd=child.ROOT,
    )  # fmt: skip
    os.close(write_end)
    counter = ByteCounter()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: counter, os.fdopen(read_end, "rb", buffering=0))
    try:
        await asyncio.wait_for(asyncio.gather(proc.wait(), counter.done), RUN_LIMIT_SECONDS)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return Run(
        events=count,
        seconds=max(counter.last_ns - counter.first_ns, 1) / 1e9,
        first_event_ms=(counter.first_ns - t0) / 1e6,
        reader_cpu=time.process_time() - cpu0,
        child_cpu=math.nan,  # the child's result event is not decoded here
    )


async def run_manager(count: int, rate: float, screenshots: bool) -> Run:
    recorder = new_recorder(count, screenshots)
    cpu0, t0 = time.process_time(), time.monotonic_ns()
    queue_run = await mpqueue.run(recorder, count, rate, screenshots, RUN_LIMIT_SECONDS)
    run = _finish(recorder, t0, cpu0, count, "manager producer")
    run.child_cpu += queue_run.manager_cpu
    return run


def _finish(recorder: Recorder, t0: int, cpu0: float, count: int, what: str) -> Run:
    reader_cpu = time.process_time() - cpu0
    if recorder.result is None or recorder.first_ns is None or recorder.count != count + 2:
        raise RuntimeError(f"{what}: {recorder.count} of {count + 2} events arrived")
    made = recorder.first_made_ns if recorder.first_made_ns is not None else recorder.first_ns
    return Run(
        events=count,
        seconds=(recorder.last_ns - made) / 1e9,
        first_event_ms=(recorder.first_ns - t0) / 1e6,
        reader_cpu=reader_cpu,
        child_cpu=float(recorder.result["emitter_cpu_s"]),
        latencies_ns=recorder.latencies_ns,
    )


async def run_one(system: str, kind: str, sizes: Sizes) -> Run | None:
    if system == RAW:
        return await run_raw(sizes.flood) if kind == "flood" else None
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
    if system in STORES:
        return await run_stored(system, count, rate, shots)
    return await run_ours(system, count, rate, shots)


def measure(sizes: Sizes, systems: Sequence[str]) -> dict[tuple[str, str], list[Run]]:
    """Every run on a fresh event loop: the standard one, or uvloop for `SYSTEM@uvloop`."""
    runs: dict[tuple[str, str], list[Run]] = {}
    for _ in range(sizes.repeats):
        for kind in ("flood", "shots", "paced"):
            for system in systems:
                base, _, loop = system.partition("@")
                with asyncio.Runner(loop_factory=event_loop_factory(loop or "asyncio")) as runner:
                    run = runner.run(run_one(base, kind, sizes))
                runs.setdefault((system, kind), []).extend([run] if run else [])
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
    flood, shots, paced = (runs.get((system, k), []) for k in ("flood", "shots", "paced"))
    small, big = event_bytes(False), event_bytes(True)
    every = flood + shots + paced
    return Row(
        events_s=median([r.events / r.seconds for r in flood]),
        mb_s=median([r.events * small / r.seconds / 1e6 for r in flood]),
        shots_mb_s=median([r.events * big / r.seconds / 1e6 for r in shots]),
        p50_us=median([percentile(r.latencies_ns, 50) / 1e3 for r in paced if r.latencies_ns]),
        p99_us=median([percentile(r.latencies_ns, 99) / 1e3 for r in paced if r.latencies_ns]),
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
    for system, row in rows.items():
        if base is not None and system not in ("manager", RAW):
            table.note(_ratios(system, row, base))
    table.note(
        f"flood: {sizes.flood:,} events (manager {sizes.flood_manager:,}), 200 KiB run: "
        f"{sizes.shots} (manager {sizes.shots_manager}), paced: {sizes.paced:,} at "
        f"{PACED_RATE:,.0f}/s; latency = child monotonic_ns stamp -> event in the log"
    )
    for system in ("pipe+sqlite", "pipe"):
        if base is not None and system in rows:
            times = ratio(rows[system].events_s, base.events_s)
            table.note(
                f"goal {system} >= 50x manager events/s: {fmt(times, 1)}x, {goal(times >= 50)}"
            )
    for system, row in rows.items():
        plain = system.partition("@")[0]
        if plain != system and plain in rows:
            times = ratio(row.events_s, rows[plain].events_s)
            table.note(f"{system} / {plain} events/s: {fmt(times, 2)}x (same run, interleaved)")
    if RAW in rows and "pipe" in rows:
        table.note(
            f"pipe events/s = {fmt(100 * ratio(rows['pipe'].events_s, rows[RAW].events_s))} % "
            f"of the pipe's raw limit (pipe-raw: the same bytes, read and dropped)"
        )
    table.note("with a store, an event counts (throughput, latency) once it is visible")
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
    systems = [s for s in args.systems.split(",") if s.partition("@")[0] in SYSTEMS]
    runs = measure(sizes, systems)
    rows = {system: summarize(runs, system) for system in systems}
    print(report(rows, sizes, mode), flush=True)
    return 0 if all(not math.isnan(r.events_s) for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
