"""The shared (Redis) store: append throughput, and worker-to-client latency against SQLite.

    python -m bench.redis [--quick | --smoke] [--repeats N]

Starts its own `redis-server` (no persistence, loopback, a free port) and measures:
  appends   events/s into Redis from one instance through `RedisStore`: every batch one
            fenced Lua script (token and position checked), batches pipelined per round
            trip, for batch sizes 1, 16 and 256 events
  latency   one audit, one SSE client, the real server at 1,000 events/s: emitter stamp ->
            bytes read by the client, with the SQLite store (durable, the default) and with
            the Redis store (visible once Redis acknowledged); runs interleaved
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import cli, fanout
from bench.stats import Table, fmt, median, percentile
from server.stores.redis import RedisStore
from server.stores.store import AuditRecord, StoredEvent

BATCHES: Final = (1, 16, 256)


@dataclass(frozen=True, slots=True)
class Sizes:
    appended: int  # events per append run
    events: int  # per latency run, at fanout.RATE
    repeats: int


SIZES: Final = {
    "smoke": Sizes(2_000, 200, 1),
    "quick": Sizes(50_000, 5_000, 3),
    "full": Sizes(200_000, 20_000, 5),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def redis_server(folder: Path) -> AsyncIterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make test-deps installs it)")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    log = (folder / "redis.log").open("ab")
    with log:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=log)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        await _until_up(url)
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def _until_up(url: str) -> None:
    async with asyncio.timeout(20):
        while True:
            store = RedisStore(url)
            with contextlib.suppress(Exception):
                await store.open()
                await store.close()
                return
            await asyncio.sleep(0.05)


def _record(audit_id: str) -> AuditRecord:
    return AuditRecord(
        id=audit_id, url="http://127.0.0.1:9/", tier="quick_scan", verdict_mode="simple",
        security_modules=None, ipc="pipe", status="running", created_at=time.time(),
    )  # fmt: skip


async def append_rate(url: str, count: int, batch: int, run: int) -> float:
    """Events per second from append to acknowledged, `batch` events per append call."""
    store = RedisStore(url)
    await store.open()
    audit_id = f"bench-{batch}-{run}"
    await store.create_audit(_record(audit_id))
    data = json.dumps({"v": 1, "type": "log_entry", "seq": 0, "message": "x" * 120})
    started = time.perf_counter()
    for first in range(1, count + 1, batch):
        events = [
            StoredEvent(p, "log_entry", data) for p in range(first, min(first + batch, count + 1))
        ]
        store.append_events(audit_id, events)
        if first // batch % 64 == 0:
            await asyncio.sleep(0)  # as a live log does: appends arrive between writer passes
    await store.flush()
    seconds = time.perf_counter() - started
    await store.close()
    return count / seconds


async def measure(
    sizes: Sizes, folder: Path
) -> tuple[dict[int, list[float]], dict[str, list[fanout.FanRun]]]:
    rates: dict[int, list[float]] = {}
    runs: dict[str, list[fanout.FanRun]] = {}
    fan_sizes = fanout.Sizes((1,), sizes.events, sizes.events, sizes.events, 0, 1, 120.0)
    async with redis_server(folder) as url:
        for repeat in range(sizes.repeats):
            for batch in BATCHES:
                rates.setdefault(batch, []).append(
                    await append_rate(url, sizes.appended, batch, repeat)
                )
            for setting in ("sqlite", "redis"):
                # The server under test reads VERITAS_STORE from the environment it inherits.
                if setting == "redis":
                    os.environ["VERITAS_STORE"] = url
                try:
                    found = await fanout.fan_run(
                        "ours", folder / f"{setting}-{repeat}", 1, fan_sizes
                    )
                finally:
                    os.environ.pop("VERITAS_STORE", None)
                runs.setdefault(setting, []).append(found)
                fanout.progress(f"redis latency {setting}: {found.deliveries:,} events")
    return rates, runs


def report(
    rates: dict[int, list[float]], runs: dict[str, list[fanout.FanRun]], sizes: Sizes, mode: str
) -> str:
    appends = Table(
        f"Appends into Redis from one instance, fenced and pipelined ({mode}, "
        f"{sizes.appended:,} events of ~170 bytes, medians of {sizes.repeats} runs)",
        ("events per append", "events/s"),
    )
    for batch, measured in rates.items():
        appends.add(str(batch), fmt(median(measured)))
    appends.note("each append is one Lua script: fencing token + position check + XADDs")
    latency = Table(
        f"Worker -> client latency at {fanout.RATE:,.0f} events/s, one SSE client "
        f"({mode}, medians of {sizes.repeats} runs)",
        ("store", "events", "p50 ms", "p90 ms", "p99 ms", "max ms", "complete %"),
    )
    for setting, found in runs.items():
        latency.add(
            setting, str(sizes.events),
            fmt(median([percentile(r.latencies_ns, 50) / 1e6 for r in found]), 2),
            fmt(median([percentile(r.latencies_ns, 90) / 1e6 for r in found]), 2),
            fmt(median([percentile(r.latencies_ns, 99) / 1e6 for r in found]), 2),
            fmt(median([max(r.latencies_ns) / 1e6 for r in found]), 2),
            fmt(median([100 * r.complete / r.n for r in found])),
        )  # fmt: skip
    latency.note("sqlite: the default (synchronous=FULL); redis: loopback, no persistence")
    return appends.render() + "\n" + latency.render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.redis", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    with tempfile.TemporaryDirectory(prefix="veritas-redis-") as folder:
        rates, runs = asyncio.run(measure(sizes, Path(folder)))
    print(report(rates, runs, sizes, mode), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
