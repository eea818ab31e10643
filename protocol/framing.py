"""msgpack frames, sans-I/O: a 4-byte big-endian length, then one msgpack map of that length.

    frame = encode_frame(event)
    decoder = FrameDecoder()
    decoder.feed(chunk)          # any split of the stream, one byte at a time included
    for event in decoder: ...    # yields only complete, validated events

A frame stream has no resynchronisation point, so the first bad frame (corrupt:
`FrameError`; a valid map that is no valid event: `SchemaError`) breaks the decoder for
good: every later call raises `FrameError` (the reader is expected to give
up on the channel, see DESIGN.md "Fallback").
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final

import msgpack

from protocol.errors import FrameError, FrameTooLarge, ProtocolError
from protocol.events import Event, fast_specs, from_wire, to_wire

try:
    from protocol import _fastpath
except ImportError:  # built without a C compiler: every frame takes the Python path
    _fastpath = None  # type: ignore[assignment]
else:
    _fastpath.configure(Event, fast_specs())

# `decode_frames(buffer, pos, max_frame_size, events) -> pos` (protocol/_fastpath.c): the
# events of the frames from `pos` on that its fast path takes, up to the first it leaves
# to the Python code below; None when the extension is not built.
FAST_DECODE: Final = None if _fastpath is None else _fastpath.decode_frames

DEFAULT_MAX_FRAME_SIZE: Final = 16 * 1024 * 1024
HEADER: Final = struct.Struct(">I")


# Bytes values from this size on (screenshots) are spliced into the frame rather than packed
# (`_spliced`): below it, one `packb` call is cheaper than the pieces; above it, packing
# costs two extra copies of the image.
SPLICE_MIN: Final = 64 * 1024


def encode_frame(event: Event, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    wire = to_wire(event)
    if not any(type(v) is bytes and len(v) >= SPLICE_MIN for v in wire.values()):
        body = msgpack.packb(wire, use_bin_type=True)
        _check_size(len(body), max_frame_size)
        return HEADER.pack(len(body)) + body
    parts = _spliced(wire)
    size = sum(map(len, parts))
    _check_size(size, max_frame_size)
    return b"".join([HEADER.pack(size), *parts])


def _check_size(size: int, max_frame_size: int) -> None:
    if size > max_frame_size:
        raise FrameTooLarge(size, max_frame_size)


def _spliced(wire: dict[str, object]) -> list[bytes]:
    """The msgpack body of `wire` in pieces, its large bytes values as they are: the same
    bytes `msgpack.packb` makes, but an image is copied once (into the frame) instead of
    three times (into the packer's buffer, out of it, then behind the frame's header)."""
    parts = [_map_header(len(wire))]
    small: dict[str, object] = {}
    for key, value in wire.items():
        if type(value) is bytes and len(value) >= SPLICE_MIN:
            parts += _packed_pairs(small)
            small = {}
            parts += [msgpack.packb(key), _bin_header(len(value)), value]
        else:
            small[key] = value
    return parts + _packed_pairs(small)


def _packed_pairs(pairs: dict[str, object]) -> list[bytes]:
    """Key-value pairs as they appear inside a map: the packed map without its header."""
    if not pairs:
        return []
    packed = msgpack.packb(pairs, use_bin_type=True)
    return [packed[len(_map_header(len(pairs))) :]]


def _map_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x80 | count])
    if count < 1 << 16:
        return b"\xde" + count.to_bytes(2, "big")
    return b"\xdf" + count.to_bytes(4, "big")


def _bin_header(size: int) -> bytes:
    if size < 1 << 8:
        return b"\xc4" + size.to_bytes(1, "big")
    if size < 1 << 16:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def pack_event(event: Event) -> bytes:
    """The msgpack body of a frame: bytes stay bytes (bin type), strings stay str."""
    return encode_frame(event, max_frame_size=2**32 - 1)[HEADER.size :]


def unpack_event(body: bytes | bytearray | memoryview) -> Event:
    return from_wire(_unpack(body))


def _unpack(body: bytes | bytearray | memoryview) -> object:
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=True, ext_hook=_refuse_ext)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises a dozen unrelated types for bad input
        raise FrameError(f"frame body is not valid msgpack: {exc}") from exc


def _refuse_ext(code: int, data: bytes) -> object:
    raise FrameError(f"msgpack extension type {code} is not part of the protocol")


class FrameDecoder:
    """Feed bytes, iterate events. Buffers at most one frame (header + `max_frame_size`)."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, *, fast: bool = True) -> None:
        self.max_frame_size = max_frame_size
        self._fast = FAST_DECODE if fast else None  # off: the reference path only (tests)
        self._buffer = bytearray()
        self._pos = 0  # start of the first unconsumed byte in _buffer
        self._broken: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back; non-zero at end of stream means truncation."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._raise_if_broken()
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def __iter__(self) -> Iterator[Event]:
        return self

    def decode_into(self, events: list[Event]) -> None:
        """Append every complete buffered frame's event to `events`, in order.

        The same events as iterating, in one loop per read rather than a call per frame.
        On a bad frame the events before it are already in `events` when the error is
        raised, and the decoder is broken as when iterating.
        """
        self._raise_if_broken()
        buffer, pos, limit = self._buffer, self._pos, self.max_frame_size
        end = len(buffer)
        append, header, unpackb = events.append, HEADER.unpack_from, msgpack.unpackb
        fast = self._fast
        try:
            while True:
                if fast is not None:
                    pos = fast(buffer, pos, limit, events)
                if end - pos < HEADER.size:
                    break
                # A frame the fast path left (or every frame, without it): the reference.
                (size,) = header(buffer, pos)
                if size > limit:
                    raise FrameTooLarge(size, limit)
                start = pos + HEADER.size
                if end - start < size:
                    break
                pos = start + size
                # `unpack_event` inlined: its call cost as much as a flat event's checks.
                # A copied slice, not a view: a live view would stop `feed` from resizing.
                body = buffer[start:pos]
                obj = unpackb(body, raw=False, strict_map_key=True, ext_hook=_refuse_ext)
                append(from_wire(obj))
        except ProtocolError as exc:
            raise self._break(exc) from exc
        except Exception as exc:  # from msgpack, as in `unpack_event`
            raise self._break(FrameError(f"frame body is not valid msgpack: {exc}")) from exc
        finally:
            self._pos = pos

    def __next__(self) -> Event:
        self._raise_if_broken()
        available = len(self._buffer) - self._pos
        if available < HEADER.size:
            raise StopIteration
        (size,) = HEADER.unpack_from(self._buffer, self._pos)
        if size > self.max_frame_size:
            raise self._break(FrameTooLarge(size, self.max_frame_size))
        if available < HEADER.size + size:
            # The size was checked above, before any of the body is buffered.
            raise StopIteration
        start = self._pos + HEADER.size
        self._pos = start + size
        # Released at once: a live view would stop `feed` from resizing the buffer.
        with memoryview(self._buffer)[start : self._pos] as body:
            try:
                return unpack_event(body)
            except ProtocolError as exc:
                raise self._break(exc) from exc

    def _break(self, exc: ProtocolError) -> ProtocolError:
        self._broken = exc
        return exc

    def _raise_if_broken(self) -> None:
        if self._broken is not None:
            raise FrameError(f"decoder is broken by an earlier error: {self._broken}")
