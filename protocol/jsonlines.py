"""The stdout fallback channel, sans-I/O: one event per line, `##VERITAS ` + compact JSON + LF.

    line = encode_line(event)
    decoder = LineDecoder()
    decoder.feed(chunk)
    for item in decoder: ...     # an Event, or a ForeignLine (stdout text that is not ours)

JSON has no bytes, so a top-level bytes field `name` travels as `name_b64` (standard
base64) and comes back as bytes. Lines resynchronise the stream: a bad line raises one
`ProtocolError` (`LineError`, or `SchemaError` for valid JSON that is no valid event), is
dropped, and iteration goes on with the next line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

import orjson

from protocol.errors import LineError, LineTooLong, SchemaError
from protocol.events import EVENT_SPECS, Event, from_wire, to_wire
from protocol.framing import DEFAULT_MAX_FRAME_SIZE

MARKER: Final = b"##VERITAS "
B64_SUFFIX: Final = "_b64"
# A maximal frame's bytes grow by 4/3 in base64; the line limit follows the frame limit.
DEFAULT_MAX_LINE_SIZE: Final = DEFAULT_MAX_FRAME_SIZE * 4 // 3 + 64 * 1024


@dataclass(frozen=True, slots=True)
class ForeignLine:
    """A stdout line without the marker: not an event, kept so the reader can log it."""

    text: bytes


def to_json_map(event: Event) -> dict[str, Any]:
    """The wire map with every bytes field replaced by its `<name>_b64` text."""
    wire = to_wire(event)
    for name, value in event.fields.items():
        if isinstance(value, bytes):
            del wire[name]
            wire[name + B64_SUFFIX] = base64.b64encode(value).decode("ascii")
    return wire


# The reference encoding: the standard library's, compact and ASCII-only. One encoder for
# every event: `json.dumps` with options builds a new one on each call.
_JSON: Final = attrgetter("json")
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# Where orjson's output can differ from the reference: non-ASCII text (kept raw, not
# escaped), DEL (raw, not `\u007f`), and floats below 1e-4 (`0.00001` for `1e-05`,
# `1e-9` for `1e-09`). Anything else it writes is the reference byte for byte.
_SHORT_EXPONENT: Final = re.compile(rb"\de-")


def to_json_many(events: list[Event]) -> list[str]:
    """`to_json` of each event: the texts the fast path made, taken in one pass in C when
    every event has one (a flood's read)."""
    texts = list(map(_JSON, events))
    return texts if all(texts) else [to_json(event) for event in events]


def to_json(event: Event) -> str:
    """Compact, ASCII-only JSON: no raw newline can appear, and any Unicode survives.

    orjson makes it (several times faster); the output is checked for the few forms where
    orjson differs from the standard library's encoding, which then makes it instead, so
    the text is always the same (tests/protocol/test_jsonlines.py compares the two).
    The reader's fast path makes the text along with the event (`Event.json`).
    """
    if event.json is not None:
        return event.json
    wire = to_wire(event)
    try:
        fast = orjson.dumps(wire)
    except TypeError:  # a bytes field (orjson takes no bytes), or a key that is not text
        wire = to_json_map(event)
        try:
            fast = orjson.dumps(wire)
        except TypeError:
            return _ENCODER.encode(wire)
    if fast.isascii() and not _needs_reference(fast):
        return fast.decode("ascii")
    return _ENCODER.encode(wire)


def _needs_reference(encoded: bytes) -> bool:
    return (
        b"\x7f" in encoded
        or b"0.0000" in encoded
        or (b"e-" in encoded and _SHORT_EXPONENT.search(encoded) is not None)
    )


def to_json_reference(event: Event) -> str:
    """The standard library's encoding, which `to_json` must equal (for tests, benchmarks)."""
    return _ENCODER.encode(to_json_map(event))


def encode_line(event: Event) -> bytes:
    return MARKER + to_json(event).encode("ascii") + b"\n"


def from_json_map(obj: object) -> Event:
    """Inverse of `to_json_map`: `<name>_b64` becomes bytes for the type's bytes fields."""
    if isinstance(obj, dict):
        spec = EVENT_SPECS.get(obj.get("type"))  # type: ignore[arg-type]
        for name in spec.bytes_fields if spec is not None else ():
            encoded = obj.pop(name + B64_SUFFIX, None)
            if encoded is not None and name not in obj:
                obj[name] = _b64decode(encoded, name + B64_SUFFIX)
    return from_wire(obj)


def _b64decode(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise SchemaError(field, f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SchemaError(field, f"invalid base64: {exc}") from exc


def decode_line(line: bytes) -> Event:
    """One marked line (marker included, newline optional) to its event."""
    payload = line[len(MARKER) :].rstrip(b"\r\n")
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise LineError(f"line is not valid JSON: {exc}") from exc
    try:
        return from_json_map(obj)
    except RecursionError as exc:
        raise LineError("line nests too deeply") from exc


class LineDecoder:
    """Feed bytes, iterate `Event | ForeignLine`. Holds at most `max_line_size` bytes."""

    def __init__(self, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        self.max_line_size = max_line_size
        self._buffer = bytearray()
        self._pos = 0
        self._discarding = False  # inside an overlong line, dropping bytes up to its newline
        self._scanned = 0  # bytes after _pos already known to hold no newline

    @property
    def buffered(self) -> int:
        return len(self._buffer) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def end_of_stream(self) -> bytes:
        """The unterminated tail left when the stream ends (a truncated last line), then reset."""
        tail = bytes(self._buffer[self._pos :])
        self._buffer.clear()
        self._pos = self._scanned = 0
        self._discarding = False
        return tail

    def __iter__(self) -> Iterator[Event | ForeignLine]:
        return self

    def __next__(self) -> Event | ForeignLine:
        while True:
            newline = self._buffer.find(b"\n", self._pos + self._scanned)
            if newline < 0:
                return self._wait_for_more()
            line_end = newline + 1
            start, self._pos, self._scanned = self._pos, line_end, 0
            if self._discarding:
                self._discarding = False
                continue
            if line_end - start > self.max_line_size:
                raise LineTooLong(self.max_line_size)
            line = bytes(self._buffer[start:line_end])
            if not line.startswith(MARKER):
                return ForeignLine(line.rstrip(b"\r\n"))
            return decode_line(line)

    def _wait_for_more(self) -> Event | ForeignLine:
        pending = len(self._buffer) - self._pos
        if self._discarding or pending > self.max_line_size:
            del self._buffer[self._pos :]
            self._scanned = 0
            if not self._discarding:
                self._discarding = True
                raise LineTooLong(self.max_line_size)
        else:
            self._scanned = pending
        raise StopIteration
