"""The reader's C fast path (protocol/_fastpath.c) against the Python reference path.

For any frame stream, decoding with the fast path must give exactly what the Python path
gives: the same events (fields in the same order, the same value types), the same JSON
text for each (`Event.json`, which the fast path fills, equals `to_json_reference`), and
the same error, with the events before it. The fast path may only decline a frame,
never decide differently.
"""

from __future__ import annotations

import copy
import gc
import math
import pickle
import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import sse
from protocol.errors import ProtocolError
from protocol.events import EVENT_SPECS, Event, to_wire
from protocol.framing import FAST_DECODE, FrameDecoder, encode_frame
from protocol.jsonlines import to_json, to_json_reference
from tests.protocol.examples import EXAMPLE_FIELDS, example

FLAT_TYPES = sorted(t for t in EVENT_SPECS if t not in ("screenshot", "security_result"))


def frame(wire: Any) -> bytes:
    body = msgpack.packb(wire, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def decode(data: bytes, *, fast: bool, chunk: int | None = None) -> tuple[list[Event], str]:
    decoder = FrameDecoder(fast=fast)
    events: list[Event] = []
    step = chunk or max(len(data), 1)
    try:
        for start in range(0, len(data), step):
            decoder.feed(data[start : start + step])
            decoder.decode_into(events)
    except ProtocolError as exc:
        return events, f"{type(exc).__name__}: {exc}"
    return events, ""


def assert_same(data: bytes, chunk: int | None = None) -> list[Event]:
    """Both paths agree on `data`; the fast path's events."""
    fast, fast_error = decode(data, fast=True, chunk=chunk)
    slow, slow_error = decode(data, fast=False, chunk=chunk)
    assert fast_error == slow_error
    assert fast == slow
    for mine, reference in zip(fast, slow, strict=True):
        assert to_json(mine) == to_json_reference(reference)  # order, types, escapes
        assert [type(v) for v in mine.fields.values()] == [
            type(v) for v in reference.fields.values()
        ]
        assert mine.json is None or mine.json == to_json_reference(reference)
    return fast


def test_the_fast_path_is_built() -> None:
    # `make test` installs a C compiler (scripts/install-test-deps.sh): without one the
    # package runs on the Python path alone, and these tests would compare it with itself.
    assert FAST_DECODE is not None, "protocol._fastpath is not built: run make test"


@pytest.mark.parametrize("type_", sorted(EVENT_SPECS))
def test_every_example_decodes_the_same_both_ways(type_: str) -> None:
    assert_same(encode_frame(example(type_)))


def test_flat_ascii_events_take_the_fast_path() -> None:
    wire = {"v": 1, "type": "log_entry", "seq": 3, "ts": 1.5}
    wire |= {"agent": "scout", "level": "info", "message": 'a "quoted"\ttab\x7f\x01'}
    (event,) = assert_same(frame(wire))
    assert event.json == to_json_reference(event)
    (stats,) = assert_same(frame({**wire, "type": "stats_update", "stats": {"a": 1, "b": None}}))
    assert stats.json is not None


ESCAPED = ['"', "\\", "\x7f", *map(chr, range(0x20))]


@pytest.mark.parametrize("special", ESCAPED)
def test_every_escaped_character_is_escaped_at_every_place_in_a_long_text(special: str) -> None:
    # Texts are scanned eight bytes at a time: an escape must be found wherever it falls.
    messages = ["x" * at + special + "y" * (20 - at) for at in range(21)]
    stream = b"".join(
        frame({"v": 1, "type": "log_entry", "seq": seq, "ts": 1.5, "agent": "a", "level": "info",
               "message": message})
        for seq, message in enumerate(messages, 1)
    )  # fmt: skip
    events = assert_same(stream)
    assert [e.json is not None for e in events] == [True] * len(messages)
    assert [e["message"] for e in events] == messages


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"message": "café"}, "non-ASCII text"),
        ({"extra": b"\x00"}, "bytes"),
        ({"extra": {"deep": {"er": 1}}}, "nesting"),
        ({"extra": [1, 2]}, "a list that is no field of the type"),
    ],
)
def test_what_the_fast_path_declines_the_python_path_decides(
    change: dict[str, Any], why: str
) -> None:
    wire = {"v": 1, "type": "log_entry", "seq": 3, "ts": 1.5, **EXAMPLE_FIELDS["log_entry"]}
    (event,) = assert_same(frame({**wire, **change}))
    assert event.json is None, why


@pytest.mark.parametrize(
    "wire",
    [
        {"v": True, "type": "log_entry", "seq": 1, "ts": 1.0},  # a boolean is no version
        {"v": 1, "type": "log_entry", "seq": 0, "ts": 1.0},  # worker seqs start at 1
        {"v": 1, "type": "audit_started", "seq": -1, "ts": 1.0, "pid": 1},
        {"v": 1, "type": "nope", "seq": 1, "ts": 1.0},
        {"v": 1, "type": "log_entry", "seq": 2**63, "ts": 1.0},
        {"v": 1, "type": "log_entry", "seq": 1, "ts": math.nan},
        {"v": 1, "type": "log_entry", "seq": 1, "ts": "now"},
        {"v": 1, "type": "log_entry", "seq": 1, "ts": 2**64 - 1},
        {"v": 1, "type": "site_type", "seq": 1, "ts": 1.0, "site_type": "x", "confidence": 2},
        {"v": 1, "type": "phase_start", "seq": 1, "ts": 1.0, "phase": "nope"},
        [1, 2, 3],
        "not a map",
    ],
)
def test_invalid_frames_fail_with_the_same_error(wire: Any) -> None:
    fields = EXAMPLE_FIELDS.get(wire.get("type", ""), {}) if isinstance(wire, dict) else {}
    good = frame({"v": 1, "type": "log_entry", "seq": 1, "ts": 1.0, **EXAMPLE_FIELDS["log_entry"]})
    bad = frame({**fields, **wire} if isinstance(wire, dict) else wire)
    assert_same(good + bad + good)
    events, error = decode(good + bad + good, fast=True)
    assert error and len(events) == 1  # the bad frame ends the stream


def test_a_repeated_key_is_left_to_the_python_path() -> None:
    # msgpack allows it; the last value wins on both paths, which must agree.
    body = msgpack.packb({"v": 1, "type": "log_entry", "seq": 1, "ts": 1.0, "agent": "a"})
    extra = msgpack.packb({"level": "info", "message": "m", "agent": "b"})[1:]
    fixmap = bytes([body[0] + 3])
    data = fixmap + body[1:] + extra
    (event,) = assert_same(struct.pack(">I", len(data)) + data)
    assert event["agent"] == "b" and event.json is None


def test_float32_and_every_integer_width_decode_the_same() -> None:
    head = b"\x84\xa1v\x01\xa4type\xacstats_update\xa3seq\x01\xa2ts\xca" + struct.pack(">f", 0.1)
    widths = [b"\xcc\xff", b"\xcd\xff\xff", b"\xce\xff\xff\xff\xff", b"\xd0\x80", b"\xd1\x80\x00"]
    widths += [b"\xd2\x80\x00\x00\x00", b"\xd3\x80" + bytes(7), b"\xcf\x7f" + b"\xff" * 7]
    stats = b"\x88" + b"".join(bytes([0xA1, ord("a") + i]) + w for i, w in enumerate(widths))
    body = bytes([head[0] + 1]) + head[1:] + b"\xa5stats" + stats
    (event,) = assert_same(struct.pack(">I", len(body)) + body)
    assert event.json is not None and event.ts == struct.unpack(">f", struct.pack(">f", 0.1))[0]


def test_truncated_and_oversized_frames_are_the_python_paths_to_refuse() -> None:
    good = encode_frame(example("log_entry", 1))
    assert_same(good + good[:-1])  # the last frame waits for its last byte
    huge = struct.pack(">I", 2**31) + b"\x80"
    assert decode(good + huge, fast=True) == decode(good + huge, fast=False)


# -- any stream, generated


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-1e6, max_value=1e6),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),
        st.text(max_size=6),
        st.binary(max_size=4),
    )


def values() -> st.SearchStrategy[Any]:
    nested = st.one_of(
        st.lists(scalars(), max_size=4),
        st.dictionaries(st.text(max_size=5), scalars(), max_size=4),
    )
    return st.one_of(scalars(), nested, st.lists(nested, max_size=2))


@st.composite
def wires(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event's wire map, then as a worker or a fuzzer might change it."""
    type_ = draw(st.sampled_from([*FLAT_TYPES, "security_result", "screenshot"]))
    wire = to_wire(example(type_, 0 if EVENT_SPECS[type_].origin == "server" else 5))
    wire["ts"] = draw(st.one_of(st.floats(), st.integers(-(2**63), 2**63), st.just(wire["ts"])))
    for key in draw(st.lists(st.sampled_from(sorted(wire)), max_size=2)):
        wire[key] = draw(values()) if draw(st.booleans()) else scalars_like(draw, wire[key])
    for key in draw(st.lists(st.text(min_size=1, max_size=6), max_size=2)):
        wire[key] = draw(scalars())
    if draw(st.booleans()):
        items = list(wire.items())
        wire = dict(draw(st.permutations(items)))
    return wire


def scalars_like(draw: st.DrawFn, value: Any) -> Any:
    """A value of the same kind as `value`, often valid for its field."""
    if isinstance(value, str):
        return draw(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8))
    if isinstance(value, bool) or value is None:
        return draw(scalars())
    if isinstance(value, int | float):
        return draw(st.one_of(st.integers(-5, 200), st.floats(-5, 200)))
    if isinstance(value, dict):
        return {k: scalars_like(draw, v) for k, v in value.items()}
    return value


@settings(max_examples=400, deadline=None)
@given(st.lists(wires(), min_size=1, max_size=6), st.integers(1, 64))
def test_any_stream_decodes_the_same_both_ways_in_any_chunks(
    stream: list[dict[str, Any]], chunk: int
) -> None:
    data = b"".join(frame(wire) for wire in stream)
    assert_same(data)
    assert_same(data, chunk=chunk)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
def test_floats_are_written_as_repr_writes_them(numbers: list[float]) -> None:
    stats = {f"k{i}": number for i, number in enumerate(numbers)}
    wire = {"v": 1, "type": "stats_update", "seq": 1, "ts": numbers[0], "stats": stats}
    (event,) = assert_same(frame(wire))
    assert event.json is not None


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.floats(1e-4, 2.0**53),
        st.floats(-(2.0**53), -1e-4),
        st.floats(1.5e9, 2.5e9),  # timestamps, the float every event has
        st.builds(round, st.floats(-1e4, 1e4), st.integers(0, 8)),  # short decimals
    )
)
def test_the_fast_float_writer_writes_what_repr_writes_or_declines(number: float) -> None:
    from protocol._fastpath import float_repr

    written = float_repr(number)
    assert written is None or written == repr(number)
    in_range = 1e-4 <= abs(number) < 2.0**53
    power_of_two = math.frexp(number)[0] in (0.5, -0.5)
    if in_range and not power_of_two:  # the fixed-notation range: declined only for these
        assert written is not None


# -- SSE entries


@pytest.mark.parametrize("first", [1, 7, 9, 99, 10**12 - 3])
def test_sse_entries_are_the_messages_encode_message_makes(first: int) -> None:
    events = [example(t, 1) for t in FLAT_TYPES]
    types, datas = [e.type for e in events], [to_json(e) for e in events]
    expected = [
        sse.encode_message(d, event=t, id=p)
        for p, t, d in zip(range(first, first + len(types)), types, datas, strict=True)
    ]
    assert sse.encode_entries(first, types, datas) == expected


@pytest.mark.parametrize(("types", "datas"), [(["a"], ["x\ny"]), (["a\r"], ["x"]), (["é"], ["x"])])
def test_sse_entries_refuse_what_needs_the_general_encoder(
    types: list[str], datas: list[str]
) -> None:
    with pytest.raises(ValueError):
        sse.encode_entries(1, types, datas)


def test_a_fast_path_event_copies_pickles_and_compares_as_any_event() -> None:
    wire = {"v": 1, "type": "stats_update", "seq": 4, "ts": 2.5, "stats": {"pages": 3}}
    (event,) = assert_same(frame(wire))
    assert event.json is not None
    twin = pickle.loads(pickle.dumps(event))
    assert twin == event == copy.copy(event) and twin.fields == {"stats": {"pages": 3}}
    with pytest.raises(AttributeError):
        event.seq = 5  # type: ignore[misc]


def test_fast_path_events_are_left_out_of_the_cyclic_collector() -> None:
    # Text and numbers, and later their fields decoded from JSON: they cannot form a cycle,
    # so the thousands a read makes must cost the collector nothing.
    wire = {"v": 1, "type": "stats_update", "seq": 4, "ts": 2.5, "stats": {"pages": 3}}
    (event,) = assert_same(frame(wire))
    assert event.json is not None
    assert not gc.is_tracked(event)
    assert event.fields == {"stats": {"pages": 3}}  # decoded later, still readable
    gc.collect()
    assert event.fields["stats"]["pages"] == 3
