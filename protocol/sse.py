"""Server-Sent Events bytes, as the WHATWG HTML event-stream format defines them.

A message is `id:`, `event:`, one `data:` line per line of the payload, then a blank
line. The spec's parser splits lines on CR, LF and CRLF and ignores an `id` that holds
NUL, so those characters are removed from `id` and `event` here: no value can end a
field early or forge another one. Payload lines are split the same way the parser
will split them, so the data a client reassembles is the data given (line ends
normalised to LF, which is all the format can carry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import count
from typing import Final

from protocol.events import EVENT_SPECS, Event
from protocol.jsonlines import to_json

try:
    from protocol import _fastpath
except ImportError:  # built without a C compiler
    _fastpath = None  # type: ignore[assignment]

_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_FIELD_UNSAFE: Final = re.compile(r"[\r\n\0]")


# Event names that need no cleaning (every protocol type is one): the common case skips it.
_PLAIN_NAMES: Final = frozenset(EVENT_SPECS)


def encode_message(data: str, *, event: str | None = None, id: str | int | None = None) -> bytes:
    if type(id) is int and event in _PLAIN_NAMES and "\n" not in data and "\r" not in data:
        # The common case, an audit event (compact JSON holds no line break): one format.
        return f"id: {id}\nevent: {event}\ndata: {data}\n\n".encode()
    parts: list[str] = []
    if _is_one_line(data) and type(id) is int and event is not None and _is_one_line(event):
        return f"id: {id}\nevent: {event.replace(chr(0), '')}\ndata: {data}\n\n".encode()
    if id is not None:
        parts.append(f"id: {_FIELD_UNSAFE.sub('', str(id))}\n")
    if event is not None:
        parts.append(f"event: {_FIELD_UNSAFE.sub('', event)}\n")
    parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def _is_one_line(text: str) -> bool:
    return "\n" not in text and "\r" not in text


def _entries(first: int, types: list[str], datas: list[str]) -> list[bytes]:
    if len(types) != len(datas):
        raise ValueError("sse_entries: types and data differ in length")
    for text in (*types, *datas):
        if not text.isascii() or "\n" in text or "\r" in text:
            raise ValueError("sse_entries: types and data must be one-line ASCII text")
    return [
        f"id: {position}\nevent: {type_}\ndata: {data}\n\n".encode()
        for position, type_, data in zip(count(first), types, datas, strict=True)
    ]


# `encode_entries(first, types, datas)`: the messages of a log's entries at positions first,
# first + 1, ...; each the bytes `encode_message(data, event=type, id=position)` makes,
# for protocol type names and one-line ASCII data (`to_json` text), which is all it takes.
encode_entries: Final[Callable[[int, list[str], list[str]], list[bytes]]] = (
    _entries if _fastpath is None else _fastpath.sse_entries
)


def encode_event(position: int, event: Event) -> bytes:
    """An event of an audit's log: `id` is its position in the log, `event` its type."""
    return encode_message(to_json(event), event=event.type, id=position)


def encode_comment(text: str = "") -> bytes:
    """Comment lines (`: ping`): ignored by clients, they keep proxies and buffers moving."""
    return "".join(f": {line}\n" if line else ":\n" for line in _LINE_BREAK.split(text)).encode()


def encode_retry(milliseconds: int) -> bytes:
    """The reconnection delay a client's EventSource should use."""
    if milliseconds < 0:
        raise ValueError("retry must be a non-negative number of milliseconds")
    return f"retry: {milliseconds}\n\n".encode("ascii")
