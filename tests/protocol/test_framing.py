"""msgpack frames: round trips, any chunking, size limit before buffering, garbage."""

from __future__ import annotations

import struct
import tracemalloc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import FrameError, FrameTooLarge, ProtocolError, SchemaError
from protocol.events import EVENT_SPECS, Event, to_wire
from protocol.framing import FrameDecoder, encode_frame
from tests.protocol.examples import example


def decode_all(data: bytes, chunk: int = 1 << 16) -> list[Event]:
    decoder = FrameDecoder()
    out: list[Event] = []
    for start in range(0, len(data), chunk):
        decoder.feed(data[start : start + chunk])
        out.extend(decoder)
    assert decoder.buffered == 0
    return out


@pytest.mark.parametrize("type_", sorted(EVENT_SPECS))
def test_every_type_round_trips_through_a_frame(type_: str) -> None:
    event = example(type_)
    assert decode_all(encode_frame(event)) == [event]


def test_frame_is_a_big_endian_length_then_one_msgpack_map() -> None:
    event = example("audit_started")
    frame = encode_frame(event)
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    assert msgpack.unpackb(frame[4:]) == to_wire(event)


def test_bytes_travel_as_msgpack_bin_and_come_back_as_bytes() -> None:
    event = example("screenshot")
    frame = encode_frame(event)
    assert b"\xc5\x03\x00" + bytes(range(256)) in frame  # bin16 header, 768 raw bytes
    (decoded,) = decode_all(frame)
    assert decoded["data"] == bytes(range(256)) * 3
    assert isinstance(decoded["data"], bytes)


def test_one_byte_at_a_time_yields_each_event_when_its_last_byte_arrives() -> None:
    stream = encode_frame(example("hello", 1)) + encode_frame(example("log_entry", 2))
    decoder = FrameDecoder()
    seen = []
    for index in range(len(stream)):
        decoder.feed(stream[index : index + 1])
        for event in decoder:
            seen.append((index, event.seq))
    first_end = len(encode_frame(example("hello", 1))) - 1
    assert seen == [(first_end, 1), (len(stream) - 1, 2)]


def test_oversized_length_is_refused_from_the_header_alone_without_allocating_it() -> None:
    decoder = FrameDecoder(max_frame_size=1024)
    tracemalloc.start()
    try:
        decoder.feed(struct.pack(">I", 0xFFFF_FFFF))
        with pytest.raises(FrameTooLarge) as info:
            next(decoder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.size == 0xFFFF_FFFF and info.value.limit == 1024
    assert peak < 64 * 1024


def test_default_limit_is_16_mib() -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">I", 16 * 1024 * 1024 + 1))
    with pytest.raises(FrameTooLarge):
        next(decoder)


def test_encoder_refuses_a_frame_over_the_limit() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame(example("screenshot"), max_frame_size=100)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xc1", FrameError),  # a byte msgpack never uses
        (msgpack.packb([1, 2]), SchemaError),  # valid msgpack, not a map
        (msgpack.packb({"v": 1}) + b"\x00", FrameError),  # trailing bytes inside the frame
        (b"\xc7\x01\x05x", FrameError),  # an extension type
        (msgpack.packb({1: 2}), FrameError),  # a non-string key
        (b"", FrameError),
    ],
)
def test_garbage_raises_a_frame_error_and_breaks_the_decoder(
    body: bytes, error: type[ProtocolError]
) -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">I", len(body)) + body + encode_frame(example("hello", 1)))
    with pytest.raises(error):
        next(decoder)
    with pytest.raises(FrameError, match="broken"):
        next(decoder)
    with pytest.raises(FrameError, match="broken"):
        decoder.feed(b"more")


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_random_bytes_raise_only_protocol_errors(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder(max_frame_size=4096)
    try:
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])
            for _ in decoder:
                pass
    except ProtocolError:
        pass


# -- decode_into: a read's frames in one call, the same events as iterating


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(EVENT_SPECS)), max_size=12), st.integers(1, 300))
def test_decode_into_gives_the_events_iteration_gives_in_any_chunking(
    types: list[str], chunk: int
) -> None:
    data = b"".join(encode_frame(example(type_, seq)) for seq, type_ in enumerate(types, 1))
    decoder = FrameDecoder()
    out: list[Event] = []
    for start in range(0, len(data), chunk):
        decoder.feed(data[start : start + chunk])
        decoder.decode_into(out)
    assert out == decode_all(data)
    assert decoder.buffered == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (msgpack.packb({"v": 1, "type": "nope", "seq": 1, "ts": 1.0}), SchemaError),
        (b"\xc1", FrameError),  # never used in msgpack
        (b"\xc7\x01\x05x", FrameError),  # an extension type
    ],
)
def test_decode_into_keeps_the_events_before_a_bad_frame_then_breaks(
    body: bytes, error: type[ProtocolError]
) -> None:
    good = [example("hello", 1), example("log_entry", 2)]
    decoder = FrameDecoder()
    decoder.feed(b"".join(map(encode_frame, good)) + struct.pack(">I", len(body)) + body)
    decoder.feed(encode_frame(example("log_entry", 3)))
    out: list[Event] = []
    with pytest.raises(error):
        decoder.decode_into(out)
    assert out == good
    with pytest.raises(FrameError, match="broken"):
        decoder.decode_into(out)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_decode_into_on_random_bytes_raises_only_protocol_errors(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder(max_frame_size=4096)
    out: list[Event] = []
    try:
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])
            decoder.decode_into(out)
    except ProtocolError:
        pass
