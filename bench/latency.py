"""Worker-to-client latency at 1,000 events/s, with and without durability before visibility.

    python -m bench.latency [--quick | --smoke] [--repeats N]

One audit, one SSE client, the real server (`python -m server`, its worker the synthetic
emitter): latency is the emitter's `monotonic_ns` stamp -> the bytes read by the client.
Four settings of the same server, runs interleaved:
  durable   SQLite; an event reaches the client only after its commit (the default,
            `synchronous=FULL`: each commit waits for fsync, safe from power loss)
  normal    the same with `synchronous=NORMAL`: commits without fsync, safe from a killed
            server process (SIGKILL, OOM), not from power loss or a kernel crash
  early     SQLite; events are shown before their commit (the design before group commit:
            a crash could take back what a client saw)
  memory    no store at all (`--data-dir ''`): the floor
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import cli, fanout
from bench.stats import Table, fmt, goal, median, percentile, ratio

SETTINGS: Final = {
    "durable": "ours",
    "normal": "ours-normal",
    "early": "ours-early",
    "memory": "ours-memory",
}


@dataclass(frozen=True, slots=True)
class Sizes:
    events: int  # per run, at fanout.RATE
    repeats: int


SIZES: Final = {
    "smoke": Sizes(200, 1),
    "quick": Sizes(5000, 3),
    "full": Sizes(20_000, 5),
}


async def measure(sizes: Sizes, folder: Path) -> dict[str, list[fanout.FanRun]]:
    fan_sizes = fanout.Sizes((1,), sizes.events, sizes.events, sizes.events, 0, 1, 120.0)
    runs: dict[str, list[fanout.FanRun]] = {}
    for repeat in range(sizes.repeats):
        for setting, name in SETTINGS.items():
            where = folder / f"{setting}-{repeat}"
            found = await fanout.fan_run(name, where, 1, fan_sizes)
            runs.setdefault(setting, []).append(found)
            fanout.progress(f"latency {setting}: {found.deliveries:,} events")
    return runs


def report(runs: dict[str, list[fanout.FanRun]], sizes: Sizes, mode: str) -> str:
    table = Table(
        f"Worker -> client latency at {fanout.RATE:,.0f} events/s, one SSE client "
        f"({mode}, medians of {sizes.repeats} runs)",
        ("setting", "events", "p50 ms", "p90 ms", "p99 ms", "max ms", "server CPU %", "complete %"),
    )
    p99: dict[str, float] = {}
    for setting, found in runs.items():
        p99[setting] = median([percentile(r.latencies_ns, 99) / 1e6 for r in found])
        table.add(
            setting, str(sizes.events),
            fmt(median([percentile(r.latencies_ns, 50) / 1e6 for r in found]), 2),
            fmt(median([percentile(r.latencies_ns, 90) / 1e6 for r in found]), 2),
            fmt(p99[setting], 2),
            fmt(median([max(r.latencies_ns) / 1e6 for r in found]), 2),
            fmt(median([100 * r.server_cpu / r.seconds for r in found])),
            fmt(median([100 * r.complete / r.n for r in found])),
        )  # fmt: skip
    for setting in ("durable", "normal"):
        table.note(
            f"{setting} / early p99: {fmt(ratio(p99[setting], p99['early']), 2)}x; "
            f"goal p99 <= 2 ms: {goal(p99[setting] <= 2)}"
        )
    table.note("latency: emitter monotonic_ns stamp -> bytes read by the client process")
    return table.render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.latency", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    with tempfile.TemporaryDirectory(prefix="veritas-latency-") as folder:
        runs = asyncio.run(measure(sizes, Path(folder)))
    print(report(runs, sizes, mode), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
