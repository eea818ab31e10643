"""The cost of each step of the event path, per event, measured with `timeit`.

    python -m bench.steps [--quick | --smoke] [--repeats N]

For three representative events (log_entry, finding, stats_update from `bench.stream`):
validation of the decoded msgpack map, the event's JSON (orjson with its check, and the
standard library's reference encoding it replaced), and the SSE bytes (JSON included).
The best of `repeats` timings of `number` calls each, in microseconds per call.

Then the reader's path as the pipe feeds it: the flood stream's frames (the four kinds
in turn, as `bench.emitter` writes them) in 256 KiB reads, each step over the whole
stream, cumulative, in microseconds per event (best of `repeats`, CPU time). No pipe
and no child: `python -m bench.ipc` adds those.
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from bench import cli
from bench.emitter import frame
from bench.stats import Table, fmt
from bench.stream import EventStream
from protocol.events import Event, from_wire
from protocol.framing import HEADER, FrameDecoder
from protocol.jsonlines import to_json, to_json_reference
from protocol.sse import encode_event, encode_message
from server.streaming.intake import Intake
from server.streaming.log import AuditLog, LogLimits


@dataclass(frozen=True, slots=True)
class Sizes:
    number: int
    repeats: int
    stream: int  # events in the reader-path stream


SIZES: Final = {
    "smoke": Sizes(200, 2, 2000),
    "quick": Sizes(20_000, 5, 100_000),
    "full": Sizes(100_000, 7, 200_000),
}
READ_BYTES: Final = 256 * 1024  # what asyncio's pipe transport reads at most per call
KINDS: Final = {"log_entry": 5, "finding": 7, "stats_update": 6}  # seq -> its template


def best_us(call: Callable[[], Any], sizes: Sizes) -> float:
    times = timeit.repeat(call, number=sizes.number, repeat=sizes.repeats)
    return min(times) / sizes.number * 1e6


def steps(wire: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    packed = msgpack.packb(wire, use_bin_type=True)
    event = from_wire(dict(wire))
    return {
        "msgpack unpack": lambda: msgpack.unpackb(packed, raw=False),
        "from_wire (validate)": lambda: from_wire(msgpack.unpackb(packed, raw=False)),
        "to_json (orjson, checked)": lambda: to_json(event),
        "to_json_reference (json stdlib)": lambda: to_json_reference(event),
        "encode_event (SSE, JSON included)": lambda: encode_event(7, event),
        "encode_message (SSE framing only)": lambda: encode_message(
            '{"x":1}', event=event.type, id=7
        ),
    }


def report(sizes: Sizes, mode: str) -> str:
    stream = EventStream(stamp=False)
    per_kind = {kind: steps(stream.event(seq)) for kind, seq in KINDS.items()}
    table = Table(
        f"Per-event steps, us per call ({mode}, best of {sizes.repeats} x {sizes.number:,})",
        ("step", *KINDS),
    )
    for step in per_kind["log_entry"]:
        table.add(step, *(fmt(best_us(per_kind[k][step], sizes), 2) for k in KINDS))
    return table.render()


class NullSink:
    def append(self, event: Event) -> None:
        pass

    def extend(self, events: list[Event]) -> None:
        pass


def reads(count: int) -> list[bytes]:
    """The stream's frames, joined into reads of whole frames up to `READ_BYTES` each."""
    stream = EventStream(stamp=False)
    chunks: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for seq in range(2, count + 2):
        pending.append(frame(stream.event(seq)))
        size += len(pending[-1])
        if size >= READ_BYTES - 1024:
            chunks.append(b"".join(pending))
            pending, size = [], 0
    return [*chunks, b"".join(pending)] if pending else chunks


def walk_frames(chunks: list[bytes], unpack: bool) -> None:
    for chunk in chunks:  # each read holds whole frames here: the walk needs no buffer
        pos, end = 0, len(chunk)
        while pos < end:
            (size,) = HEADER.unpack_from(chunk, pos)
            start, pos = pos + HEADER.size, pos + HEADER.size + size
            if unpack:
                msgpack.unpackb(chunk[start:pos])


def decode(chunks: list[bytes], fast: bool) -> None:
    decoder = FrameDecoder(fast=fast)
    events: list[Event] = []
    for chunk in chunks:
        decoder.feed(chunk)
        decoder.decode_into(events)
        events.clear()


def into_intake(chunks: list[bytes], sink: Any) -> None:
    intake = Intake(sink, audit_id="bench", mode="pipe")
    for chunk in chunks:
        intake._pipe_data(chunk)


def new_log(count: int) -> AuditLog:
    return AuditLog("bench", LogLimits(max_events=count + 16, max_bytes=count * 4096))


def reader_steps(chunks: list[bytes], count: int) -> dict[str, Callable[[], Any]]:
    sink = ListSink()
    into_intake(chunks, sink)
    batches = sink.batches
    return {
        "walk the frame headers only": lambda: walk_frames(chunks, unpack=False),
        "+ msgpack.unpackb of each frame": lambda: walk_frames(chunks, unpack=True),
        "decode and validate into Events: the Python path": lambda: decode(chunks, fast=False),
        "the same, and each one's JSON: the C fast path": lambda: decode(chunks, fast=True),
        "intake: decode, validate, de-duplicate (no sink)": lambda: into_intake(chunks, NullSink()),
        "log alone: AuditLog.extend per read (JSON, SSE)": lambda: _extend_all(
            new_log(count), batches
        ),
        "intake -> AuditLog (the server's path, no store)": lambda: into_intake(
            chunks, new_log(count)
        ),
    }


class ListSink(NullSink):
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    def extend(self, events: list[Event]) -> None:
        self.batches.append(events)


def _extend_all(log: AuditLog, batches: list[list[Event]]) -> None:
    for batch in batches:
        log.extend(batch)


def per_event_cpu_us(call: Callable[[], Any], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


async def reader_report(sizes: Sizes, mode: str) -> str:
    chunks = reads(sizes.stream)
    table = Table(
        f"The reader's path per event, {sizes.stream:,} events in {len(chunks)} reads "
        f"of {READ_BYTES // 1024} KiB ({mode}, best of {sizes.repeats}, CPU us)",
        ("step", "us/event", "events/s at 1 core"),
    )
    for step, call in reader_steps(chunks, sizes.stream).items():
        us = per_event_cpu_us(call, sizes.stream, sizes.repeats)
        table.add(step, fmt(us, 2), fmt(1e6 / us))
    return table.render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.steps", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    print(report(sizes, mode), flush=True)
    # The log wakes its readers with asyncio.Event: it needs a running loop.
    print(asyncio.run(reader_report(sizes, mode)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
