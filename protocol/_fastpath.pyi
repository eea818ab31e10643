"""Types of the C fast path (protocol/_fastpath.c)."""

from typing import Any

from protocol.events import Event

def configure(event_type: type[Event], specs: dict[str, Any], /) -> None: ...
def decode_frames(
    buffer: bytes | bytearray, pos: int, max_frame_size: int, events: list[Event], /
) -> int: ...
def sse_entries(first_id: int, types: list[str], datas: list[str], /) -> list[bytes]: ...
