"""Frames with a large bytes field (screenshots) are built in pieces: the bytes msgpack makes."""

from __future__ import annotations

import msgpack
import pytest

from protocol.errors import FrameTooLarge
from protocol.events import Event, new_event, to_wire
from protocol.framing import HEADER, SPLICE_MIN, FrameDecoder, encode_frame


def screenshot(size: int, **extra: object) -> Event:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    return new_event(
        "screenshot", 7, index=1, label="page 1", url="http://shop.test/", mime="image/jpeg",
        data=data, **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    "size",
    [SPLICE_MIN - 1, SPLICE_MIN, (1 << 16) - 1, 1 << 16, 200 * 1024, 256 * 1024 + 3],
)
def test_a_large_image_frame_is_byte_for_byte_what_msgpack_packs(size: int) -> None:
    event = screenshot(size)
    frame = encode_frame(event)
    body = msgpack.packb(to_wire(event), use_bin_type=True)
    assert frame == HEADER.pack(len(body)) + body


def test_fields_after_the_image_keep_their_place_and_round_trip() -> None:
    event = screenshot(SPLICE_MIN + 5, extra_note="from a newer peer", extra_count=3)
    frame = encode_frame(event)
    assert frame[HEADER.size :] == msgpack.packb(to_wire(event), use_bin_type=True)
    decoder = FrameDecoder()
    decoder.feed(frame)
    assert list(decoder) == [event]


def test_a_spliced_frame_over_the_limit_is_refused_with_its_size() -> None:
    event = screenshot(SPLICE_MIN * 2)
    size = len(msgpack.packb(to_wire(event), use_bin_type=True))
    with pytest.raises(FrameTooLarge) as raised:
        encode_frame(event, max_frame_size=SPLICE_MIN)
    assert f"frame of {size} bytes" in str(raised.value)
