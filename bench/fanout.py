"""SSE fan-out benchmark: one audit's stream to N concurrent subscribers, three servers.

    python -m bench.fanout [--quick | --smoke] [--repeats N] [--systems ours,nchan,hub]
        [--counts 10000]                  (ours-uvloop: ours on `--loop uvloop`, on request)
                           [--counts 10000]

For each N the same stamped events go, at a fixed rate, to N subscribers held by
separate load-generator processes (`bench.subscriber`):
  ours    the real server path: `python -m server`, a synthetic emitter child as its worker
          (msgpack pipe -> intake -> event log -> SSE)
  nchan   nginx + Nchan (one worker process), fed by HTTP POSTs on one keep-alive connection
  hub     aiohttp + aiohttp-sse with one asyncio.Queue per subscriber, fed the same way
Runs are interleaved (each system once per N, then again). Reported: deliveries/s (first
delivery to last, all subscribers), delivery latency (stamp at emission -> bytes at the
client), server CPU and peak RSS, and memory per idle connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import cli, nchan, systems
from bench.proc import raise_fd_limit
from bench.stats import Table, fmt, goal, median, percentile, ratio
from bench.systems import System, cpu, rss

RATE: Final = 1000.0  # events/s published
SYSTEMS: Final = ("ours", "nchan", "hub")
# Ours with each store setting: the server's default is SQLite with durable visibility.
OURS_STORES: Final = {
    "ours": "durable",
    "ours-normal": "durable-normal",
    "ours-early": "early",
    "ours-memory": "memory",
}
# Ours on uvloop (`--loop uvloop`), SQLite and durable visibility as shipped: by name only.
UVLOOP: Final = "ours-uvloop"
RSS_SAMPLE_SECONDS: Final = 0.2
KIB: Final = 1024
RESULT_LINE_LIMIT: Final = 64 * 1024 * 1024  # a load generator's JSON line, latencies included


@dataclass(frozen=True, slots=True)
class Sizes:
    counts: tuple[int, ...]  # N subscribers
    deliveries: int  # per run: events = deliveries / N, within the bounds below
    min_events: int
    max_events: int
    idle: int  # idle connections for the memory measurement
    repeats: int
    timeout: float  # per run, connect and deliver


SIZES: Final = {
    "smoke": Sizes((1, 20), 1000, 50, 50, 100, 1, 30.0),
    "quick": Sizes((1, 100, 1000, 5000), 100_000, 50, 1000, 10_000, 2, 60.0),
    "full": Sizes((1, 100, 1000, 5000), 1_000_000, 100, 5000, 10_000, 3, 120.0),
}


def events_for(sizes: Sizes, n: int) -> int:
    return max(sizes.min_events, min(sizes.max_events, sizes.deliveries // n))


def client_processes(n: int) -> int:
    return max(1, min(3, math.ceil(n / 500)))


@dataclass
class FanRun:
    n: int
    events: int
    ready: int
    deliveries: int
    seconds: float
    latencies_ns: list[int]
    server_cpu: float
    server_rss: int
    client_cpu: float
    complete: int


@contextlib.asynccontextmanager
async def start(name: str, folder: Path, events: int, connections: int) -> AsyncIterator[System]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    if name == UVLOOP:
        async with systems.ours(folder, events, RATE, "durable", loop="uvloop") as ours:
            yield ours
    elif name.startswith("ours"):
        store = OURS_STORES[name]
        async with systems.ours(folder, events, RATE, store) as ours:
            yield ours
    elif name == "hub":
        async with systems.hub(folder, events, RATE) as hub:
            yield hub
    else:
        async with systems.nginx(folder, events, RATE, connections) as nginx:
            yield nginx


class Clients:
    """The load-generator processes for one run, `n` connections split between them."""

    def __init__(self, port: int, path: str, n: int, expect: int, timeout: float) -> None:
        self.argv = [sys.executable, "-m", "bench.subscriber", "--port", str(port)]
        self.argv += ["--path", path, "--expect", str(expect), "--timeout", str(timeout)]
        self.n = n
        self.timeout = timeout
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> int:
        """Start them and wait until every connection has its headers; the number ready."""
        parts = client_processes(self.n)
        for index in range(parts):
            count = self.n // parts + (1 if index < self.n % parts else 0)
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    *self.argv,
                    "--count",
                    str(count),
                    cwd=systems.ROOT,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    limit=RESULT_LINE_LIMIT,
                )
            )
        lines = [await self._line(p) for p in self.procs]
        return sum(int(line.split()[1]) for line in lines if line.startswith("READY"))

    async def results(self) -> list[dict[str, Any]]:
        lines = [await self._line(p) for p in self.procs]
        await self.stop()
        if not all(line.startswith("{") for line in lines):
            raise RuntimeError("a load-generator process ended without its results")
        return [json.loads(line) for line in lines]

    async def _line(self, proc: asyncio.subprocess.Process) -> str:
        assert proc.stdout is not None
        raw = await asyncio.wait_for(proc.stdout.readline(), self.timeout + 30)
        return raw.decode().strip()

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def peak_rss(system: System, done: asyncio.Event) -> int:
    peak = rss(system)
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), RSS_SAMPLE_SECONDS)
        peak = max(peak, rss(system))
    return peak


async def fan_run(name: str, folder: Path, n: int, sizes: Sizes) -> FanRun:
    events = events_for(sizes, n)
    async with start(name, folder, events, n) as system:
        path = await system.prepare()
        clients = Clients(_port(system), path, n, events, sizes.timeout)
        try:
            ready = await clients.start()
            cpu0, done = cpu(system), asyncio.Event()
            async with asyncio.TaskGroup() as group:
                peak = group.create_task(peak_rss(system, done))
                await system.go()
                try:
                    found = await clients.results()
                finally:
                    done.set()
            return _fan_result(
                n=n, events=events, ready=ready, found=found,
                server_cpu=cpu(system) - cpu0, peak=peak.result(),
            )  # fmt: skip
        finally:
            await clients.stop()


def _port(system: System) -> int:
    port: int = getattr(system, "port")  # noqa: B009 - every System has one
    return port


def _fan_result(
    *, n: int, events: int, ready: int, found: list[dict[str, Any]], server_cpu: float, peak: int
) -> FanRun:
    firsts = [r["first_ns"] for r in found if r["first_ns"]]
    lasts = [r["last_ns"] for r in found if r["last_ns"]]
    seconds = (max(lasts) - min(firsts)) / 1e9 if firsts else math.nan
    return FanRun(
        n=n,
        events=events,
        ready=ready,
        deliveries=sum(r["deliveries"] for r in found),
        seconds=seconds,
        latencies_ns=[x for r in found for x in r["latencies_ns"]],
        server_cpu=server_cpu,
        server_rss=peak,
        client_cpu=sum(r["cpu_s"] for r in found),
        complete=sum(r["done"] for r in found),
    )


@dataclass(frozen=True, slots=True)
class IdleRun:
    wanted: int
    ready: int
    before: int
    after: int

    @property
    def per_connection(self) -> float:
        return (self.after - self.before) / self.ready if self.ready else math.nan


async def idle_run(name: str, folder: Path, n: int, limit: float) -> IdleRun:
    async with start(name, folder, 10, n) as system:
        path = await system.prepare()
        await asyncio.sleep(0.5)
        before = rss(system)
        clients = Clients(_port(system), path, n, 1_000_000, limit)
        try:
            ready = await clients.start()
            await asyncio.sleep(1.0)  # let the server settle what it allocated per connection
            return IdleRun(n, ready, before, rss(system))
        finally:
            await clients.stop()


async def measure(
    sizes: Sizes, names: Sequence[str], folder: Path
) -> tuple[dict[tuple[str, int], list[FanRun]], dict[str, IdleRun]]:
    runs: dict[tuple[str, int], list[FanRun]] = {}
    for repeat in range(sizes.repeats):
        for n in sizes.counts:
            for name in names:
                where = folder / f"{name}-{n}-{repeat}"
                began = time.monotonic()
                async with asyncio.timeout(sizes.timeout * 2 + 60):
                    found = await fan_run(name, where, n, sizes)
                runs.setdefault((name, n), []).append(found)
                progress(f"{name} N={n}: {found.deliveries:,} deliveries, "
                         f"{time.monotonic() - began:.1f} s")  # fmt: skip
    idle: dict[str, IdleRun] = {}
    for name in names:
        async with asyncio.timeout(sizes.timeout * 2 + 60):
            idle[name] = await idle_run(name, folder / f"{name}-idle", sizes.idle, sizes.timeout)
        progress(f"{name}: {idle[name].ready:,} idle connections")
    return runs, idle


def progress(text: str) -> None:
    print(f"fanout: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Row:
    deliveries_s: float
    p50_ms: float
    p99_ms: float
    cpu_pct: float  # server CPU, percent of one core, over the delivery
    cpu_us: float  # server CPU per delivery
    rss_mib: float
    client_cpu_pct: float
    complete_pct: float


def summarize(found: list[FanRun]) -> Row:
    return Row(
        deliveries_s=median([r.deliveries / r.seconds for r in found]),
        p50_ms=median([percentile(r.latencies_ns, 50) / 1e6 for r in found]),
        p99_ms=median([percentile(r.latencies_ns, 99) / 1e6 for r in found]),
        cpu_pct=median([100 * r.server_cpu / r.seconds for r in found]),
        cpu_us=median([1e6 * r.server_cpu / r.deliveries for r in found if r.deliveries]),
        rss_mib=median([r.server_rss / KIB / KIB for r in found]),
        client_cpu_pct=median([100 * r.client_cpu / r.seconds for r in found]),
        complete_pct=median([100 * r.complete / r.n for r in found]),
    )


def report(
    runs: dict[tuple[str, int], list[FanRun]], idle: dict[str, IdleRun], sizes: Sizes, mode: str
) -> str:
    names = list(idle)
    rows = {key: summarize(found) for key, found in runs.items()}
    table = Table(
        f"SSE fan-out at {RATE:,.0f} events/s ({mode}, medians of {sizes.repeats} runs)",
        ("system", "N", "events", "deliveries/s", "p50 ms", "p99 ms", "server CPU %",
         "CPU us/dlv", "RSS MiB", "clients CPU %", "complete %"),
    )  # fmt: skip
    for n in sizes.counts:
        for name in names:
            row = rows[(name, n)]
            table.add(
                name, str(n), str(events_for(sizes, n)), fmt(row.deliveries_s),
                fmt(row.p50_ms, 2), fmt(row.p99_ms, 2), fmt(row.cpu_pct), fmt(row.cpu_us, 2),
                fmt(row.rss_mib, 1), fmt(row.client_cpu_pct), fmt(row.complete_pct),
            )  # fmt: skip
    _ratio_notes(table, rows, names, sizes)
    return table.render() + "\n" + _idle_table(idle).render()


def _ratio_notes(
    table: Table, rows: dict[tuple[str, int], Row], names: list[str], sizes: Sizes
) -> None:
    if "ours" not in names:
        return
    # Where ours delivers the whole offered load, a ratio says how far the other one fell
    # short, not what ours could do: such ratios are lower bounds, marked ">=", and the
    # goals are judged where every system is saturated (or on all N if none is).
    offered = {n: RATE * n for n in sizes.counts}
    bounded = {n for n in sizes.counts if rows[("ours", n)].deliveries_s >= 0.9 * offered[n]}
    judged = [n for n in sizes.counts if n not in bounded] or list(sizes.counts)
    for base, wanted in (("nchan", 2.0), ("hub", 3.0), (UVLOOP, math.nan)):
        if base not in names:
            table.note(f"{base}: skipped")
            continue
        found = {n: ratio(rows[("ours", n)].deliveries_s, rows[(base, n)].deliveries_s)
                 for n in sizes.counts}  # fmt: skip
        text = ", ".join(f"N={n}: {'>=' if n in bounded else ''}{fmt(r, 2)}x"
                         for n, r in found.items())  # fmt: skip
        if math.isnan(wanted):
            table.note(f"ours / {base} deliveries/s: {text}")
            continue
        worst = min(found[n] for n in judged)
        table.note(f"ours / {base} deliveries/s: {text}; goal >= {wanted}x at saturation "
                   f"(N={','.join(map(str, judged))}): {goal(worst >= wanted)}")  # fmt: skip
    table.note(f"'>=': ours delivered the whole offered load ({RATE:,.0f} events/s x N) at that N")
    p99 = rows[("ours", min(sizes.counts))].p99_ms
    table.note(
        f"ours p99 at N={min(sizes.counts)}: {fmt(p99, 2)} ms; goal <= 2 ms: {goal(p99 <= 2)}"
    )
    table.note("latency: emitter monotonic_ns stamp -> bytes read by the client process")
    table.note("server CPU: the server process only (nginx: master + worker), from /proc;")
    table.note(
        "  server CPU % + clients CPU % near 200 means the 2 cores, not a server, set the pace"
    )


def _idle_table(idle: dict[str, IdleRun]) -> Table:
    table = Table(
        "Server memory per idle SSE connection",
        ("system", "wanted", "connected", "RSS before MiB", "RSS after MiB", "KiB/conn"),
    )
    for name, run in idle.items():
        table.add(
            name, str(run.wanted), str(run.ready), fmt(run.before / KIB / KIB, 1),
            fmt(run.after / KIB / KIB, 1), fmt(run.per_connection / KIB, 1),
        )  # fmt: skip
    if "ours" in idle:
        kib = idle["ours"].per_connection / KIB
        table.note(f"goal ours <= 10 KiB per idle connection: {fmt(kib, 1)} KiB, {goal(kib <= 10)}")
    return table


def available(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The systems that can run here, and notes on the ones skipped."""
    notes: list[str] = []
    found = [n for n in names if n in (*SYSTEMS, UVLOOP)]
    if "nchan" in found and nchan.ensure_installed() is None:
        found.remove("nchan")
        notes.append(
            "nchan: SKIPPED (nginx + libnginx-mod-nchan missing and could not be installed: "
            "needs root and apt-get)"
        )
    return found, notes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = cli.parser("python -m bench.fanout", __doc__)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--counts", help="subscriber counts instead of the size's, e.g. 10000")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    if args.counts:
        sizes = dataclasses.replace(sizes, counts=tuple(int(n) for n in args.counts.split(",")))
    raise_fd_limit(max(sizes.idle, *sizes.counts) * 2 + 1024)
    names, notes = available(args.systems.split(","))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="veritas-fanout-") as folder:
        runs, idle = asyncio.run(measure(sizes, names, Path(folder)))
    for note in notes:
        print(note)
    print(report(runs, idle, sizes, mode), flush=True)
    print(f"fanout benchmark took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
