"""SSE fan-out across instances: one audit's subscribers on one instance, or split over two.

    python -m bench.cluster [--quick | --smoke] [--repeats N]

Starts its own `redis-server` (no persistence, loopback), then for each N, interleaved:
  one   one `python -m server` on the Redis store, N subscribers on it
  two   two instances on the same Redis; the audit runs on whichever claims it, and N/2
        subscribers are on each: half read the owner's log, half the other's mirror log
        (filled by its one blocking XREAD)
The same stamped events at bench.fanout's rate, through its load generators; reported as
bench.fanout reports them: deliveries/s (first delivery to last, all subscribers),
latency (stamp at emission -> bytes at the client), server CPU (all instances, percent
of one core) and peak RSS (summed).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

from bench import cli, fanout, systems
from bench.proc import raise_fd_limit
from bench.redis import redis_server
from bench.stats import Table, fmt

LAYOUTS: Final = {"one": 1, "two": 2}  # instances the subscribers are spread over

SIZES: Final = {
    "smoke": fanout.Sizes((2, 20), 1000, 50, 50, 0, 1, 30.0),
    "quick": fanout.Sizes((100, 1000), 100_000, 50, 1000, 0, 2, 60.0),
    "full": fanout.Sizes((100, 1000, 4000), 1_000_000, 100, 5000, 0, 3, 120.0),
}


@contextlib.asynccontextmanager
async def instance(
    folder: Path, url: str, events: int, start_file: Path, index: int
) -> AsyncIterator[systems.Ours]:
    """One server on the shared store, its worker the paced emitter (which waits for
    `start_file`): whichever instance claims the audit runs it."""
    emitter = f"{sys.executable} -m bench.emitter --count {events} --rate {fanout.RATE}"
    env = {
        **os.environ,
        "VERITAS_STORE": url,
        "VERITAS_WORKER_COMMAND": f"{emitter} --start-file {start_file}",
        "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
        "PYTHONPATH": str(systems.ROOT),
    }
    data_dir = folder / f"data{index}"

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", str(data_dir)]  # fmt: skip

    async with systems.listening(argv, folder / f"server{index}.log", env) as (proc, port):
        try:
            yield systems.Ours(proc, port, start_file)
        finally:
            # A waiting emitter goes on, finds its pipe closed, and exits.
            await asyncio.to_thread(start_file.touch)


def shares(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if index < n % parts else 0) for index in range(parts)]


async def cluster_run(
    layout: str, folder: Path, url: str, n: int, sizes: fanout.Sizes
) -> fanout.FanRun:
    events = fanout.events_for(sizes, n)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    start_file = folder / "go"
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(instance(folder, url, events, start_file, index))
            for index in range(LAYOUTS[layout])
        ]
        path = await servers[0].prepare()
        groups = [
            fanout.Clients(server.port, path, share, events, sizes.timeout)
            for server, share in zip(servers, shares(n, len(servers)), strict=True)
        ]
        for clients in groups:
            stack.push_async_callback(clients.stop)
        ready = sum([await clients.start() for clients in groups])
        cpu0, done = sum(systems.cpu(s) for s in servers), asyncio.Event()
        async with asyncio.TaskGroup() as group:
            peaks = [group.create_task(fanout.peak_rss(s, done)) for s in servers]
            await servers[0].go()
            try:
                found = [result for clients in groups for result in await clients.results()]
            finally:
                done.set()
        server_cpu = sum(systems.cpu(s) for s in servers) - cpu0
        peak = sum(p.result() for p in peaks)
        return merged(n, events, ready, found, server_cpu=server_cpu, peak=peak)


def merged(
    n: int, events: int, ready: int, found: list[dict[str, Any]], *, server_cpu: float, peak: int
) -> fanout.FanRun:
    """One run's figures from every load generator's result line."""
    firsts = [r["first_ns"] for r in found if r["first_ns"]]
    lasts = [r["last_ns"] for r in found if r["last_ns"]]
    return fanout.FanRun(
        n=n,
        events=events,
        ready=ready,
        deliveries=sum(r["deliveries"] for r in found),
        seconds=(max(lasts) - min(firsts)) / 1e9 if firsts else math.nan,
        latencies_ns=[x for r in found for x in r["latencies_ns"]],
        server_cpu=server_cpu,
        server_rss=peak,
        client_cpu=sum(r["cpu_s"] for r in found),
        complete=sum(r["done"] for r in found),
    )


async def measure(sizes: fanout.Sizes, folder: Path) -> dict[tuple[str, int], list[fanout.FanRun]]:
    runs: dict[tuple[str, int], list[fanout.FanRun]] = {}
    async with redis_server(folder) as url:
        for repeat in range(sizes.repeats):
            for n in sizes.counts:
                for layout in LAYOUTS:
                    began = time.monotonic()
                    where = folder / f"{layout}-{n}-{repeat}"
                    async with asyncio.timeout(sizes.timeout * 2 + 60):
                        found = await cluster_run(layout, where, url, n, sizes)
                    runs.setdefault((layout, n), []).append(found)
                    fanout.progress(
                        f"cluster {layout} N={n}: {found.deliveries:,} deliveries, "
                        f"{time.monotonic() - began:.1f} s"
                    )
    return runs


def report(runs: dict[tuple[str, int], list[fanout.FanRun]], sizes: fanout.Sizes, mode: str) -> str:
    table = Table(
        f"SSE fan-out over instances on one Redis, at {fanout.RATE:,.0f} events/s "
        f"({mode}, medians of {sizes.repeats} runs)",
        ("instances", "N", "events", "deliveries/s", "p50 ms", "p99 ms", "server CPU %",
         "RSS MiB", "clients CPU %", "complete %"),
    )  # fmt: skip
    for n in sizes.counts:
        for layout in LAYOUTS:
            row = fanout.summarize(runs[(layout, n)])
            table.add(
                layout, str(n), str(fanout.events_for(sizes, n)), fmt(row.deliveries_s),
                fmt(row.p50_ms, 2), fmt(row.p99_ms, 2), fmt(row.cpu_pct), fmt(row.rss_mib, 1),
                fmt(row.client_cpu_pct), fmt(row.complete_pct),
            )  # fmt: skip
    table.note("two: N/2 subscribers on the instance running the audit, N/2 on the other")
    table.note("server CPU and RSS: every instance, summed; Redis and the worker not counted")
    return table.render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.cluster", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    raise_fd_limit(max(sizes.counts) * 2 + 1024)
    with tempfile.TemporaryDirectory(prefix="veritas-cluster-") as folder:
        runs = asyncio.run(measure(sizes, Path(folder)))
    print(report(runs, sizes, mode), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
