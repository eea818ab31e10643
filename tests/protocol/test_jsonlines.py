"""JSON lines on stdout: the marker, base64 for bytes, foreign lines, line limits, resync."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import LineError, LineTooLong, ProtocolError, SchemaError
from protocol.events import EVENT_SPECS, Event, new_event
from protocol.jsonlines import ForeignLine, LineDecoder, encode_line, to_json, to_json_reference
from tests.protocol.examples import events, example


def decode_all(data: bytes, chunk: int = 1 << 16) -> list[Event | ForeignLine]:
    decoder = LineDecoder()
    out: list[Event | ForeignLine] = []
    for start in range(0, len(data), chunk):
        decoder.feed(data[start : start + chunk])
        out.extend(decoder)
    return out


@pytest.mark.parametrize("type_", sorted(EVENT_SPECS))
def test_every_type_round_trips_through_a_line(type_: str) -> None:
    event = example(type_)
    assert decode_all(encode_line(event)) == [event]


def test_line_is_marker_compact_json_and_one_newline() -> None:
    line = encode_line(example("audit_started"))
    assert line == b'##VERITAS {"v":1,"type":"audit_started","seq":0,"ts":1700000000.25,"pid":99}\n'


def test_bytes_fields_travel_as_base64_under_the_b64_name() -> None:
    line = encode_line(example("screenshot"))
    wire = json.loads(line[len(b"##VERITAS ") :])
    assert "data" not in wire
    assert wire["data_b64"].startswith("AAECAwQF")
    (event,) = decode_all(line)
    assert isinstance(event, type(example("screenshot")))
    assert event["data"] == bytes(range(256)) * 3


def test_newlines_and_unicode_in_values_stay_inside_one_line() -> None:
    event = example("log_entry")  # its message holds a newline
    line = encode_line(event)
    assert line.count(b"\n") == 1 and line.isascii()
    assert decode_all(line) == [event]


def test_lines_without_the_marker_are_returned_separately() -> None:
    stream = b"warming up\r\n" + encode_line(example("hello", 1)) + b"##VERITASX not ours\n"
    out = decode_all(stream)
    assert out == [
        ForeignLine(b"warming up"),
        example("hello", 1),
        ForeignLine(b"##VERITASX not ours"),
    ]


def test_one_byte_at_a_time_works() -> None:
    stream = b"noise\n" + encode_line(example("hello", 1)) + encode_line(example("finding", 2))
    assert decode_all(stream, chunk=1) == [
        ForeignLine(b"noise"),
        example("hello", 1),
        example("finding", 2),
    ]


def test_a_bad_line_raises_once_and_the_next_line_is_read() -> None:
    decoder = LineDecoder()
    decoder.feed(b"##VERITAS {not json\n##VERITAS [1]\n" + encode_line(example("hello", 1)))
    with pytest.raises(LineError):
        next(decoder)
    with pytest.raises(SchemaError):
        next(decoder)
    assert list(decoder) == [example("hello", 1)]


def test_bad_base64_is_a_schema_error_naming_the_field() -> None:
    line = encode_line(example("screenshot")).replace(b'"data_b64":"AAEC', b'"data_b64":"!!EC')
    decoder = LineDecoder()
    decoder.feed(line)
    with pytest.raises(SchemaError) as info:
        next(decoder)
    assert info.value.field == "data_b64"


def test_an_overlong_line_is_discarded_and_reading_resumes_after_it() -> None:
    decoder = LineDecoder(max_line_size=100)
    decoder.feed(b"x" * 60)
    assert list(decoder) == []
    decoder.feed(b"y" * 60)  # now 120 bytes without a newline: over the limit
    with pytest.raises(LineTooLong):
        next(decoder)
    assert decoder.buffered == 0  # nothing of the long line is kept
    decoder.feed(b"z" * 500 + b"\nshort\n")
    assert list(decoder) == [ForeignLine(b"short")]


def test_a_complete_overlong_line_is_refused() -> None:
    decoder = LineDecoder(max_line_size=10)
    decoder.feed(b"0123456789ABCDEF\nok\n")
    with pytest.raises(LineTooLong):
        next(decoder)
    assert list(decoder) == [ForeignLine(b"ok")]


def test_end_of_stream_returns_the_truncated_tail() -> None:
    decoder = LineDecoder()
    decoder.feed(encode_line(example("hello", 1))[:-5])
    assert list(decoder) == []
    assert decoder.end_of_stream().startswith(b"##VERITAS ")
    assert decoder.buffered == 0


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_random_bytes_raise_only_protocol_errors(data: bytes, chunk: int) -> None:
    decoder = LineDecoder(max_line_size=256)
    marked = b"##VERITAS " + data  # make most examples reach the JSON and schema checks
    for start in range(0, len(marked), chunk):
        decoder.feed(marked[start : start + chunk])
        while True:
            try:
                next(decoder)
            except StopIteration:
                break
            except ProtocolError:
                continue


# -- the fast encoder against the reference, byte for byte

any_text = st.text(st.characters(codec="utf-8"), max_size=30)  # events hold no lone surrogates
odd_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e-05, 1e-9, 5e-324, 1e16, 1.5e300, -0.0, 0.0001, 123456789012345.6]
)


@settings(max_examples=150)
@given(events())
def test_to_json_equals_the_standard_library_encoding_for_any_event(event: Event) -> None:
    assert to_json(event) == to_json_reference(event)


@settings(max_examples=150)
@given(any_text, odd_floats, st.lists(st.integers(-(2**63), 2**63 - 1) | odd_floats))
def test_to_json_equals_the_reference_for_odd_text_and_numbers(
    message: str, number: float, values: list[float]
) -> None:
    event = new_event(
        "log_entry", 1, ts=number if number >= 0 else 1.0, agent="a", level="info",
        message=message, extra_number=number, extra_list=values,
    )  # fmt: skip
    assert to_json(event) == to_json_reference(event)
    assert to_json(event).isascii()


@pytest.mark.parametrize("text", ["\x7f", "\u2028", "é", "\U0001f600", "\x00\x1f", '"\\/'])
def test_to_json_escapes_like_the_reference(text: str) -> None:
    event = new_event("log_entry", 1, ts=1.0, agent="a", level="info", message=text)
    assert to_json(event) == to_json_reference(event)
