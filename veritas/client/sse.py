"""A sans-I/O reader of Server-Sent Events: feed bytes, take the complete messages.

Follows the WHATWG parsing rules the server writes for: lines end in LF, CR or CRLF; a
blank line ends a message; `:` starts a comment; `id`, `event`, `data` and `retry` are the
fields. Every line is bounded, so a server that never ends a line cannot grow memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from veritas.client.errors import ClientFailure

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Message:
    id: str | None  # the last id seen on the stream, as the spec keeps it
    event: str
    data: str


class SseDecoder:
    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._buffer = bytearray()
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Message]:
        self._buffer += chunk
        messages: list[Message] = []
        while (match := _LINE_END.search(self._buffer)) is not None:
            if match.group() == b"\r" and match.end() == len(self._buffer):
                break  # a CR at the end may be the first half of a CRLF
            line = bytes(self._buffer[: match.start()])
            del self._buffer[: match.end()]
            message = self._line(line.decode("utf-8", errors="replace"))
            if message is not None:
                messages.append(message)
        if len(self._buffer) > self.max_line_bytes:
            raise ClientFailure(f"an event line is longer than {self.max_line_bytes} bytes")
        return messages

    def _line(self, line: str) -> Message | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Message | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return Message(self.last_id, event or "message", "\n".join(data))
