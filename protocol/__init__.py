"""The wire contract between the auditor process and the server: events, frames, lines, SSE."""

from protocol.errors import (
    FrameError,
    FrameTooLarge,
    LineError,
    LineTooLong,
    ProtocolError,
    SchemaError,
)
from protocol.events import (
    ERROR_CODES,
    EVENT_SPECS,
    IPC_MODES,
    PHASES,
    PROTOCOL_VERSION,
    SERVER_TYPES,
    TERMINAL_TYPES,
    TIERS,
    VERDICT_MODES,
    WORKER_TYPES,
    Event,
    from_wire,
    new_event,
    to_wire,
)
from protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, encode_frame
from protocol.jsonlines import MARKER, ForeignLine, LineDecoder, encode_line, to_json

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "ERROR_CODES",
    "EVENT_SPECS",
    "IPC_MODES",
    "MARKER",
    "PHASES",
    "PROTOCOL_VERSION",
    "SERVER_TYPES",
    "TERMINAL_TYPES",
    "TIERS",
    "VERDICT_MODES",
    "WORKER_TYPES",
    "Event",
    "ForeignLine",
    "FrameDecoder",
    "FrameError",
    "FrameTooLarge",
    "LineDecoder",
    "LineError",
    "LineTooLong",
    "ProtocolError",
    "SchemaError",
    "encode_frame",
    "encode_line",
    "from_wire",
    "new_event",
    "to_json",
    "to_wire",
]
