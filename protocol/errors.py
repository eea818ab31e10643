"""The errors of the wire protocol.

    ProtocolError            anything a peer sent that the protocol cannot accept
    ├── SchemaError          a decoded value is not a valid event (names the field)
    ├── FrameError           the msgpack frame stream is corrupt; it cannot resynchronise
    │   └── FrameTooLarge    a frame announces more bytes than the configured maximum
    ├── LineError            one JSON line is not a valid event; the next line is read normally
    │   └── LineTooLong      a line exceeds the configured maximum and was discarded
    └── TargetError          a URL that cannot be audited: not http(s), no host, malformed
        └── TargetRefused    a valid URL whose host is, or resolves to, a non-public address

Misuse by our own code (encoding an invalid event, feeding a broken decoder) raises the
same errors, since an event that fails validation is wrong wherever it came from.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every error raised by the `protocol` package."""


class SchemaError(ProtocolError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class FrameError(ProtocolError):
    pass


class FrameTooLarge(FrameError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class LineError(ProtocolError):
    pass


class LineTooLong(LineError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"line longer than the limit of {limit} bytes was discarded")
        self.limit = limit


class TargetError(ProtocolError):
    pass


class TargetRefused(TargetError):
    def __init__(self, host: str, address: str, reason: str) -> None:
        where = f"{host} ({address})" if address and address != host else host
        super().__init__(
            f"refused to audit {where}: {reason}; only public addresses can be audited"
            " (VERITAS_ALLOW_PRIVATE_TARGETS=1 lifts this rule)"
        )
        self.host = host
        self.address = address
        self.reason = reason
