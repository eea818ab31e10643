"""Properties both stream decoders share: any valid events, cut anywhere, come back unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.events import Event
from protocol.framing import FrameDecoder, encode_frame
from protocol.jsonlines import ForeignLine, LineDecoder, encode_line
from tests.protocol.examples import events, example


class Decoder(Protocol):
    def feed(self, data: bytes) -> None: ...
    def __iter__(self) -> Iterator[Event | ForeignLine]: ...


Codec = tuple[Callable[[Event], bytes], Callable[[], Decoder]]
CODECS: dict[str, Codec] = {
    "frames": (encode_frame, FrameDecoder),
    "lines": (encode_line, LineDecoder),
}


def decode_in_pieces(decoder: Decoder, stream: bytes, cuts: Iterable[int]) -> list[object]:
    bounds = sorted(cuts)
    out: list[object] = []
    for start, end in zip([0, *bounds], [*bounds, len(stream)], strict=True):
        decoder.feed(stream[start:end])
        out.extend(decoder)
    return out


@pytest.mark.parametrize("codec", sorted(CODECS))
@settings(max_examples=300, deadline=None)
@given(items=st.lists(events(), min_size=1, max_size=5))
def test_any_valid_events_round_trip(codec: str, items: list[Event]) -> None:
    encode, decoder = CODECS[codec]
    assert decode_in_pieces(decoder(), b"".join(map(encode, items)), ()) == items


@pytest.mark.parametrize("codec", sorted(CODECS))
# 500 cut patterns per codec: the one-byte-at-a-time test below covers the finest cut.
@settings(max_examples=500, deadline=None)
@given(items=st.lists(events(), min_size=1, max_size=4), data=st.data())
def test_any_split_into_chunks_decodes_to_the_same_events(
    codec: str, items: list[Event], data: st.DataObject
) -> None:
    encode, decoder = CODECS[codec]
    stream = b"".join(map(encode, items))
    cuts = data.draw(st.sets(st.integers(0, len(stream)), max_size=12))
    assert decode_in_pieces(decoder(), stream, cuts) == items


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_one_byte_at_a_time_decodes_every_event(codec: str) -> None:
    encode, decoder = CODECS[codec]
    stream_events = [example("hello", 1), example("screenshot", 2), example("audit_result", 3)]
    stream = b"".join(map(encode, stream_events))
    assert decode_in_pieces(decoder(), stream, range(1, len(stream))) == stream_events
