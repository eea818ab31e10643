"""Audit benchmark: real audits of local sites through the real server, at 1, 2 and 4 workers.

    python -m bench.audits [--quick | --smoke] [--repeats N] [--tier quick_scan]

`python -m server` runs with `VERITAS_MAX_WORKERS=k` and the real auditor
(`python -m veritas`); the target sites are served by this process on 127.0.0.1. For each
k, `audits` audits are submitted at once and each is watched over SSE to its terminal
event: audits/minute = audits / (first POST -> last terminal event). Then, on an idle
server, `POST /audits` with `Accept: text/event-stream` is timed to the first event of
the stream and to the worker's first event (`hello`, the process spawn included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from bench import cli, site
from bench.stats import Table, fmt, goal, median, percentile
from bench.systems import listening

TERMINAL: Final = (b"event: audit_complete", b"event: audit_error")
STREAM_LIMIT: Final = 120.0  # seconds an audit may take before the benchmark gives up on it


@dataclass(frozen=True, slots=True)
class Sizes:
    workers: tuple[int, ...]
    per_worker: int  # audits submitted per worker slot
    first_samples: int  # POST -> first event, on an idle server
    repeats: int


SIZES: Final = {
    "smoke": Sizes((1,), 2, 2, 1),
    "quick": Sizes((1, 2, 4), 4, 10, 2),
    "full": Sizes((1, 2, 4), 8, 30, 3),
}


@dataclass(frozen=True, slots=True)
class Throughput:
    workers: int
    audits: int
    completed: int
    seconds: float

    @property
    def per_minute(self) -> float:
        return self.audits / self.seconds * 60


@contextlib.asynccontextmanager
async def server(folder: Path, workers: int) -> AsyncIterator[int]:
    """The real service with the real auditor, `workers` slots; yields its port."""
    env = {
        **os.environ,
        "VERITAS_MAX_WORKERS": str(workers),
        "VERITAS_ALLOW_PRIVATE_TARGETS": "1",
    }
    env.pop("VERITAS_WORKER_COMMAND", None)

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", ""]  # fmt: skip

    async with listening(argv, folder / f"server-{workers}.log", env) as (_, port):
        yield port


async def submit(session: aiohttp.ClientSession, port: int, url: str, tier: str) -> str:
    body = {"url": url, "tier": tier}
    async with session.post(f"http://127.0.0.1:{port}/audits", json=body) as response:
        answer = await response.json()
        if response.status != 202:
            raise RuntimeError(f"POST /audits answered {response.status}: {answer}")
        return str(answer["events_url"])


async def watch(session: aiohttp.ClientSession, port: int, events_url: str) -> bool:
    """Read the stream to its terminal event; True for `audit_complete`."""
    async with session.get(f"http://127.0.0.1:{port}{events_url}") as response:
        async for line in response.content:
            if line.startswith(TERMINAL[0]):
                return True
            if line.startswith(TERMINAL[1]):
                return False
    raise RuntimeError(f"{events_url}: the stream ended without a terminal event")


async def audit(session: aiohttp.ClientSession, port: int, url: str, tier: str) -> bool:
    return await watch(session, port, await submit(session, port, url, tier))


def targets(base: str, count: int) -> list[str]:
    return [f"{base}/{'shop' if i % 2 == 0 else 'blog'}/" for i in range(count)]


async def throughput(folder: Path, base: str, workers: int, sizes: Sizes, tier: str) -> Throughput:
    count = workers * sizes.per_worker
    async with server(folder, workers) as port, _session() as session:
        started = time.monotonic()
        async with asyncio.timeout(STREAM_LIMIT + count * 10):
            results = await asyncio.gather(
                *(audit(session, port, url, tier) for url in targets(base, count))
            )
        return Throughput(workers, count, sum(results), time.monotonic() - started)


def _session() -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout)


@dataclass(frozen=True, slots=True)
class FirstEvent:
    any_ms: float  # POST sent -> first event of the stream (the server's audit_queued)
    worker_ms: float  # POST sent -> the worker's hello (spawn included)


async def first_event(session: aiohttp.ClientSession, port: int, url: str, tier: str) -> FirstEvent:
    headers = {"Accept": "text/event-stream"}
    body = {"url": url, "tier": tier}
    started = time.monotonic()
    first = math.nan
    async with session.post(f"http://127.0.0.1:{port}/audits", json=body, headers=headers) as rsp:
        async for line in rsp.content:
            if line.startswith(b"event: ") and math.isnan(first):
                first = time.monotonic() - started
            if line.startswith(b"event: hello"):
                hello = time.monotonic() - started
                break
        else:
            raise RuntimeError("the stream ended before the worker's hello")
        async for line in rsp.content:
            if line.startswith(TERMINAL):
                break
    return FirstEvent(first * 1000, hello * 1000)


async def first_events(folder: Path, base: str, sizes: Sizes, tier: str) -> list[FirstEvent]:
    async with server(folder, 1) as port, _session() as session:
        found = []
        for url in targets(base, sizes.first_samples):
            async with asyncio.timeout(STREAM_LIMIT):
                found.append(await first_event(session, port, url, tier))
        return found


async def measure(
    sizes: Sizes, folder: Path, tier: str
) -> tuple[dict[int, list[Throughput]], list[FirstEvent]]:
    runs: dict[int, list[Throughput]] = {}
    async with site.serving() as base:
        for _ in range(sizes.repeats):
            for workers in sizes.workers:
                run = await throughput(folder, base, workers, sizes, tier)
                runs.setdefault(workers, []).append(run)
                progress(f"{workers} workers: {run.audits} audits in {run.seconds:.1f} s")
        firsts = await first_events(folder, base, sizes, tier)
    return runs, firsts


def progress(text: str) -> None:
    print(f"audits: {text}", file=sys.stderr, flush=True)


def report(
    runs: dict[int, list[Throughput]], firsts: list[FirstEvent], sizes: Sizes, mode: str, tier: str
) -> str:
    table = Table(
        f"Audits of local sites, tier {tier} ({mode}, medians of {sizes.repeats} runs)",
        ("workers", "audits/run", "completed", "audits/min", "vs 1 worker"),
    )
    one = median([r.per_minute for r in runs.get(1, [])])
    for workers, found in runs.items():
        rate = median([r.per_minute for r in found])
        table.add(
            str(workers), str(found[0].audits), f"{sum(r.completed for r in found)}/"
            f"{sum(r.audits for r in found)}", fmt(rate, 1), f"{fmt(rate / one, 2)}x",
        )  # fmt: skip
    any_ms = [f.any_ms for f in firsts]
    hello_ms = [f.worker_ms for f in firsts]
    table.note(
        f"POST /audits -> first event ({len(firsts)} audits, idle server): p50 "
        f"{fmt(percentile(any_ms, 50), 1)} ms, p99 {fmt(percentile(any_ms, 99), 1)} ms; "
        f"-> worker hello: p50 {fmt(percentile(hello_ms, 50), 1)} ms, "
        f"p99 {fmt(percentile(hello_ms, 99), 1)} ms"
    )
    first, hello = percentile(any_ms, 50), percentile(hello_ms, 50)
    table.note(
        f"goal p50 <= 100 ms: to the stream's first event {goal(first <= 100)}; "
        f"to the worker's first event {goal(hello <= 100)}"
    )
    table.note(f"{os.cpu_count()} cores: above that many workers, audits share CPUs")
    return table.render()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = cli.parser("python -m bench.audits", __doc__)
    parser.add_argument("--tier", default="quick_scan")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    with tempfile.TemporaryDirectory(prefix="veritas-audits-") as folder:
        runs, firsts = asyncio.run(measure(sizes, Path(folder), args.tier))
    print(report(runs, firsts, sizes, mode, args.tier), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
