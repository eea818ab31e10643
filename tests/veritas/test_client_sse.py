"""The client's SSE reader: the server's bytes, fed in any pieces, give the same messages."""

from __future__ import annotations

import pytest

from protocol.events import new_event
from protocol.sse import encode_comment, encode_event, encode_retry
from veritas.client.errors import ClientFailure
from veritas.client.sse import Message, SseDecoder

STREAM = (
    encode_comment("audit abc")
    + encode_retry(1500)
    + encode_event(1, new_event("audit_started", 0, ts=1.0, pid=7))
    + encode_comment("ping")
    + encode_event(2, new_event("log_entry", 1, ts=2.0, agent="a", level="info", message="x\ny"))
)


def messages(decoder: SseDecoder, chunks: list[bytes]) -> list[Message]:
    return [message for chunk in chunks for message in decoder.feed(chunk)]


def test_whole_and_byte_by_byte_give_the_same_messages_ids_and_retry() -> None:
    whole = SseDecoder(1024)
    expected = messages(whole, [STREAM])
    assert [(m.id, m.event) for m in expected] == [("1", "audit_started"), ("2", "log_entry")]
    assert whole.retry_ms == 1500
    one_by_one = SseDecoder(1024)
    assert messages(one_by_one, [STREAM[i : i + 1] for i in range(len(STREAM))]) == expected


def test_crlf_and_cr_line_ends_are_read_like_lf() -> None:
    lf = messages(SseDecoder(1024), [b"id: 3\nevent: e\ndata: a\ndata: b\n\n"])
    crlf = messages(SseDecoder(1024), [b"id: 3\r\nevent: e\r", b"\ndata: a\r\ndata: b\r\n\r\n"])
    # A CR last in the buffer may be half a CRLF: the next byte (here a comment) settles it.
    cr = messages(SseDecoder(1024), [b"id: 3\revent: e\rdata: a\rdata: b\r\r", b":"])
    assert lf == crlf == cr == [Message("3", "e", "a\nb")]


def test_a_line_longer_than_the_limit_is_refused() -> None:
    decoder = SseDecoder(64)
    with pytest.raises(ClientFailure, match="longer than 64 bytes"):
        decoder.feed(b"data: " + b"x" * 100)
