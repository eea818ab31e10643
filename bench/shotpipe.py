"""What moving screenshots costs, end to end: the auditor's channel to the server's intake.

    run = await measure("pipe", images, count)   # run.mbps, run.writer_cpu, run.reader_cpu

A child process sends `count` `screenshot` events exactly as the deep tier does: built and
validated by the auditor's `Emitter`, encoded and written by its `Channel` (msgpack frames
on a `pass_fds` pipe, or `##VERITAS ` JSON lines with base64 on stdout), one write per
screenshot (in an audit they are seconds apart, never batched). This process reads them
with the server's own `Intake`, which decodes, validates and orders them into a sink. MB/s
of image bytes from the first screenshot made (its `ts`, wall clock, same machine) to the
last one delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import child
from protocol.events import Event
from server.streaming.intake import Intake
from veritas.channel import Channel
from veritas.config import Limits
from veritas.emitter import Emitter

MIB: Final = 1024 * 1024
RUN_LIMIT: Final = 120.0


class Meter:
    """The intake's sink: image bytes, when the first screenshot was made, when the last came."""

    def __init__(self) -> None:
        self.first: float | None = None  # the first event's `ts`: made, in the child
        self.last = 0.0  # wall time of the last delivery, here
        self.image_bytes = 0
        self.writer_cpu = float("nan")  # CPU seconds of the child's sending, as it reports them

    def append(self, event: Event) -> None:
        if event.type == "log_entry" and event["agent"] == "bench":
            self.writer_cpu = float(event["message"].split()[1])
        if event.type != "screenshot":
            return
        if self.first is None:
            self.first = event.ts
        self.last = time.time()
        self.image_bytes += len(event["data"])

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.append(event)

    def rate(self) -> float:
        """MB/s from the first screenshot's making to the last one's delivery: encoding,
        writing, reading and decoding all inside, the child's start-up outside."""
        if self.first is None or self.last <= self.first:
            return float("nan")
        return self.image_bytes / MIB / (self.last - self.first)


@dataclass(frozen=True, slots=True)
class Run:
    mbps: float
    image_bytes: int
    writer_cpu: float  # seconds, the child's sending
    reader_cpu: float  # seconds, this process's reading (intake and loop)


async def measure(mode: str, images: Path, count: int) -> Run:
    """`count` screenshots through `mode` ("pipe" or "stdout"), as a server runs a worker."""
    meter = Meter()
    intake = Intake(meter, audit_id="bench", mode=mode)
    args = ["--writer", mode, "--count", str(count), "--images", str(images)]
    spawned = await child.spawn("bench.shotpipe", args, ipc=mode == "pipe")
    cpu = time.process_time()
    await child.read_all(spawned, intake, limit=RUN_LIMIT)
    reader_cpu = time.process_time() - cpu
    return Run(meter.rate(), meter.image_bytes, meter.writer_cpu, reader_cpu)


def save_images(images: Sequence[bytes], path: Path) -> None:
    path.write_bytes(b"".join(len(s).to_bytes(4, "big") + s for s in images))


def load_images(path: Path) -> list[bytes]:
    blob, parts, offset = path.read_bytes(), [], 0
    while offset < len(blob):
        size = int.from_bytes(blob[offset : offset + 4], "big")
        parts.append(blob[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return parts


async def write(mode: str, count: int, images: list[bytes], ipc_fd: int | None) -> None:
    """The child: the deep tier's own emit-then-drain, one screenshot per loop turn."""
    limits = Limits()
    channel = Channel(
        mode, ipc_fd, sys.stdout.fileno(), limits, lambda text: print(text, file=sys.stderr)
    )
    emitter = Emitter(channel)
    started = time.process_time()
    for index in range(count):
        data = images[index % len(images)]
        emitter.emit("screenshot", index=index + 1, label=f"page {index + 1}",
                     url="http://shop.test/", mime="image/jpeg", data=data)  # fmt: skip
        await emitter.drain()
        await asyncio.sleep(0)  # the next screenshot is seconds away in an audit
    emitter.log("bench", "info", f"cpu {time.process_time() - started}")
    await channel.aclose(limits.channel_close_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shotpipe")
    parser.add_argument("--writer", choices=("pipe", "stdout"), required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--ipc-fd", type=int, default=None)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(write(args.writer, args.count, load_images(args.images), args.ipc_fd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
