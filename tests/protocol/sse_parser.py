"""An event-stream parser written from the WHATWG HTML spec (9.2.6), to check our encoder."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    type: str
    data: str
    last_event_id: str


@dataclass
class ParseResult:
    messages: list[Message]
    retry: int | None
    comments: list[str]


def parse(stream: bytes) -> ParseResult:
    text = stream.decode("utf-8")
    text = text.removeprefix("\ufeff")
    result = ParseResult([], None, [])
    data, event_type, last_id = "", "", ""
    # A trailing line without its end-of-line is incomplete and is not processed.
    lines = re.split(r"\r\n|\r|\n", text)[:-1]
    for line in lines:
        if line == "":
            if data == "":
                event_type = ""
                continue
            result.messages.append(
                Message(event_type or "message", data.removesuffix("\n"), last_id)
            )
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            result.comments.append(line[1:].removeprefix(" "))
            continue
        field, colon, value = line.partition(":")
        value = value.removeprefix(" ") if colon else ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id" and "\0" not in value:
            last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            result.retry = int(value)
    return result
