"""The server's log lines: readable text, or one JSON object per line, each with its audit id.

The audit id comes from the record's `audit_id` (`logger.info(..., extra={"audit_id": id})`)
or, failing that, from `current_audit`, a context variable the scheduler sets around an
audit's task: asyncio copies the context into every task it starts, so whatever runs for
that audit logs its id without passing it around.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, TextIO

LOG_FORMATS: Final = ("text", "json")
MAX_MESSAGE: Final = 8192  # characters of one message; a worker's stderr line can be anything

current_audit: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "veritas_audit", default=None
)

# The attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def audit_context(audit_id: str) -> Iterator[None]:
    """Log records made inside the block (and in tasks started from it) carry `audit_id`."""
    token = current_audit.set(audit_id)
    try:
        yield
    finally:
        current_audit.reset(token)


class AuditIdFilter(logging.Filter):
    """Gives every record an `audit_id` attribute (None when no audit is concerned)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "audit_id", None) is None:
            record.audit_id = current_audit.get()
        return True


class JsonFormatter(logging.Formatter):
    """One compact JSON object per record: ts, level, logger, message, audit_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage()[:MAX_MESSAGE],
            "audit_id": getattr(record, "audit_id", None) or current_audit.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)[:MAX_MESSAGE]
        return json.dumps(entry, default=repr, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(audit)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        audit_id = getattr(record, "audit_id", None) or current_audit.get()
        record.audit = f" [{audit_id}]" if audit_id else ""
        return super().format(record)


def configure_logging(
    log_format: str = "text", level: str | int = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send the `server` loggers (and aiohttp's) to `stream` (stderr) in the chosen format."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(AuditIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "veritas", False)]:
        root.removeHandler(old)
    handler.veritas = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
