"""The cost of each step of the event path, per event, measured with `timeit`.

    python -m bench.steps [--quick | --smoke] [--repeats N]

For three representative events (log_entry, finding, stats_update from `bench.stream`):
validation of the decoded msgpack map, the event's JSON (orjson with its check, and the
standard library's reference encoding it replaced), and the SSE bytes (JSON included).
The best of `repeats` timings of `number` calls each, in microseconds per call.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from bench import cli
from bench.stats import Table, fmt
from bench.stream import EventStream
from protocol.events import from_wire
from protocol.jsonlines import to_json, to_json_reference
from protocol.sse import encode_event, encode_message


@dataclass(frozen=True, slots=True)
class Sizes:
    number: int
    repeats: int


SIZES: Final = {"smoke": Sizes(200, 2), "quick": Sizes(20_000, 5), "full": Sizes(100_000, 7)}
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.steps", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    mode, sizes = cli.chosen_sizes(args, SIZES)
    print(report(sizes, mode), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
