"""What every store does to a value before keeping it: refuse text it cannot encode, and
turn the few non-JSON types an audit result may hold into JSON."""

from __future__ import annotations

import base64

from server.stores.errors import StoreRefused


def check_text(text: str, what: str) -> None:
    """Stores keep UTF-8: text that cannot be encoded is refused before it is queued."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise StoreRefused(f"{what} is not valid Unicode: {exc.reason}") from exc


def json_default(value: object) -> object:
    """`json.dumps(default=...)` for an audit record: bytes as base64, sets as lists."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in an audit record")
