"""SSE bytes: exact encoding, and what an independent spec parser and httpx-sse read back."""

from __future__ import annotations

import json

import pytest
from httpx_sse._decoders import SSEDecoder

from protocol.events import EVENT_SPECS, new_event
from protocol.jsonlines import to_json
from protocol.sse import encode_comment, encode_event, encode_message, encode_retry
from tests.protocol.examples import example
from tests.protocol.sse_parser import Message, parse

PAYLOADS = [
    "",
    "plain",
    "two\nlines",
    "crlf\r\nand cr\rend",
    "trailing newline\n",
    "\n",
    "ünïcødé ✓ 漢字 🚀",
    ": looks like a comment",
    "data: looks like a field",
    " leading space",
]


def httpx_sse_read(stream: bytes) -> list[tuple[str, str, str]]:
    decoder = SSEDecoder()
    out = []
    for line in stream.decode("utf-8").splitlines():
        sse = decoder.decode(line)
        if sse is not None:
            out.append((sse.event, sse.data, sse.id))
    return out


def test_an_audit_event_is_id_event_data_and_a_blank_line_exactly() -> None:
    event = example("audit_started")
    assert encode_event(3, event) == (
        b"id: 3\n"
        b"event: audit_started\n"
        b'data: {"v":1,"type":"audit_started","seq":0,"ts":1700000000.25,"pid":99}\n'
        b"\n"
    )


def test_one_data_line_per_payload_line() -> None:
    assert encode_message("a\nb\r\nc\rd", event="x", id=1) == (
        b"id: 1\nevent: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )
    assert encode_message("") == b"data: \n\n"


def test_comment_retry_and_ping_bytes() -> None:
    assert encode_comment("ping") == b": ping\n"
    assert encode_comment("") == b":\n"
    assert encode_comment("a\nb") == b": a\n: b\n"
    assert encode_retry(2500) == b"retry: 2500\n\n"
    with pytest.raises(ValueError, match="non-negative"):
        encode_retry(-1)


@pytest.mark.parametrize("hostile", ["a\nb", "a\rb", "a\r\nb", "a\0b", "\n\nid: 666\n\n"])
def test_no_cr_lf_or_nul_reaches_id_or_event(hostile: str) -> None:
    encoded = encode_message("payload", event=hostile, id=hostile)
    (message,) = parse(encoded).messages
    stripped = hostile.replace("\r", "").replace("\n", "").replace("\0", "")
    assert message == Message(stripped, "payload", stripped)
    assert encoded.count(b"\n\n") == 1  # exactly one dispatch


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_spec_parser_reads_back_every_payload(payload: str) -> None:
    (message,) = parse(encode_message(payload, event="e", id=9)).messages
    expected = payload.replace("\r\n", "\n").replace("\r", "\n")
    assert message == Message("e", expected, "9")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_httpx_sse_reads_back_every_payload(payload: str) -> None:
    expected = payload.replace("\r\n", "\n").replace("\r", "\n")
    assert httpx_sse_read(encode_message(payload, event="e", id=9)) == [("e", expected, "9")]


@pytest.mark.parametrize("type_", sorted(EVENT_SPECS))
def test_every_event_type_parses_back_to_its_json(type_: str) -> None:
    event = example(type_)
    stream = encode_retry(3000) + encode_comment("ping") + encode_event(42, event)
    result = parse(stream)
    assert result.retry == 3000
    assert result.comments == ["ping"]
    (message,) = result.messages
    assert message == Message(type_, to_json(event), "42")
    assert json.loads(message.data)["type"] == type_


def test_strings_with_newlines_unicode_and_empty_values_survive_the_whole_path() -> None:
    event = new_event("log_entry", 5, ts=1.5, agent="", level="info", message="a\r\nb\n\nü 🚀")
    (message,) = parse(encode_event(1, event)).messages
    assert json.loads(message.data)["message"] == "a\r\nb\n\nü 🚀"
    assert json.loads(message.data)["agent"] == ""
