"""Every benchmark, one after the other: `python -m bench --quick` (what `make bench` runs).

    python -m bench [--quick | --smoke] [--only steps,ipc,latency,fanout,audits,deep,redis,cluster]

Each runs as its own process (so one's sockets, children and memory cannot skew the
next) and prints its own table; a failed one is reported and the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
BENCHMARKS: Final = ("steps", "ipc", "latency", "fanout", "audits", "deep", "redis", "cluster")
TIME_LIMIT: Final = 900  # seconds per benchmark, whatever its size


def run(name: str, size: list[str]) -> int:
    print(f"--- python -m bench.{name} {' '.join(size)}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", *size],
            cwd=ROOT,
            timeout=TIME_LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"bench.{name}: stopped after {TIME_LIMIT} s", flush=True)
        return 1
    print(
        f"--- bench.{name}: exit {done.returncode}, {time.monotonic() - started:.0f} s\n",
        flush=True,
    )
    return done.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true")
    size.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    flags = ["--quick"] if args.quick else ["--smoke"] if args.smoke else []
    started = time.monotonic()
    failed = [n for n in args.only.split(",") if n in BENCHMARKS and run(n, flags) != 0]
    print(
        f"all benchmarks: {time.monotonic() - started:.0f} s; failed: {', '.join(failed) or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
