"""The synthetic emitter child: speaks the worker's CLI and channels, emits a timed stream.

    python -m bench.emitter URL --ipc pipe --ipc-fd N --count 100000 [--rate 1000]
        [--screenshots] [--start-file PATH]

It writes exactly what the real worker writes (msgpack frames on the pipe, `##VERITAS `
JSON lines on stdout, both in `validate` mode): `hello`, then `--count` events (stamped when paced),
then an `audit_result` whose `result` carries the child's own CPU seconds. Flood mode
(`--rate 0`) joins events into writes of about 64 KiB, as a busy worker should; paced
mode writes each event at its moment. With `--start-file` it sends `hello` and waits for
the file to exist, so subscribers can connect before the stream starts.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import msgpack

from bench.stream import EventStream, hello, result
from protocol.framing import HEADER
from protocol.jsonlines import MARKER

BATCH_BYTES: Final = 64 * 1024
START_WAIT_SECONDS: Final = 300.0

Encoder = Callable[[dict[str, Any]], bytes]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.emitter")
    parser.add_argument("url", nargs="?", default="https://shop.example/")
    parser.add_argument("--tier", default="quick_scan")
    parser.add_argument("--verdict-mode", default="simple")
    parser.add_argument("--security-modules", default=None)
    parser.add_argument("--ipc", choices=("pipe", "stdout", "validate"), default="stdout")
    parser.add_argument("--ipc-fd", type=int, default=None)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0 floods")
    parser.add_argument("--screenshots", action="store_true")
    parser.add_argument("--start-file", type=Path, default=None)
    return parser.parse_args(argv)


def frame(wire: dict[str, Any]) -> bytes:
    body = msgpack.packb(wire, use_bin_type=True)
    return HEADER.pack(len(body)) + body


def line(wire: dict[str, Any]) -> bytes:
    data = wire.get("data")
    if isinstance(data, bytes):
        wire = {k: v for k, v in wire.items() if k != "data"}
        wire["data_b64"] = base64.b64encode(data).decode("ascii")
    return MARKER + json.dumps(wire, separators=(",", ":")).encode("ascii") + b"\n"


class Output:
    """The channels this child writes, each with its encoder; every write is complete."""

    def __init__(self, ipc: str, fd: int | None) -> None:
        self.targets: list[tuple[int, Encoder]] = []
        if ipc in ("pipe", "validate"):
            if fd is None:
                raise SystemExit("--ipc pipe needs --ipc-fd (or VERITAS_IPC_FD)")
            self.targets.append((fd, frame))
        if ipc in ("stdout", "validate"):
            self.targets.append((sys.stdout.fileno(), line))

    def send(self, events: list[dict[str, Any]]) -> None:
        for fd, encode in self.targets:
            write_all(fd, b"".join(encode(e) for e in events))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def wait_for(path: Path | None) -> None:
    deadline = time.monotonic() + START_WAIT_SECONDS
    while path is not None and not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"start file {path} never appeared")
        time.sleep(0.005)


def flood(out: Output, events: Iterator[dict[str, Any]], batch_bytes: int) -> None:
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        batch.append(event)
        size += 200 if "data" not in event else len(event["data"])
        if size >= batch_bytes:
            out.send(batch)
            batch, size = [], 0
    if batch:
        out.send(batch)


def paced(out: Output, stream: EventStream, count: int, rate: float) -> None:
    start = time.monotonic()
    for index in range(count):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.send([stream.event(index + 2)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fd = args.ipc_fd if args.ipc_fd is not None else _env_fd()
    out = Output(args.ipc, fd)
    stream = EventStream(screenshots=args.screenshots, stamp=args.rate > 0)
    out.send([hello(args.ipc, args.url, args.tier)])
    wait_for(args.start_file)
    if args.rate > 0:
        paced(out, stream, args.count, args.rate)
    else:
        flood(out, stream.events(2, args.count), BATCH_BYTES)
    times = os.times()
    out.send([result(args.count + 2, {"emitter_cpu_s": times.user + times.system})])
    return 0


def _env_fd() -> int | None:
    value = os.environ.get("VERITAS_IPC_FD")
    return int(value) if value else None


if __name__ == "__main__":
    sys.exit(main())
