"""The event log of one audit: append-only, position = SSE id, each event encoded to SSE once.

Subscribers are cursors into the log (server/streaming/sse.py): they read the encoded bytes after
their position and wait for the log to grow. The log never waits for them, so a slow
reader only falls behind on its own cursor. Every entry is also handed to the `Store`
as it is appended (the exact JSON text of the SSE `data:` line), so a finished audit can
be rebuilt from the store into the same log and replayed byte for byte by the same code.

The log is bounded (`LogLimits`): past the limit worker events are dropped and counted,
but one slot is always kept for the terminal event, after which the log is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from protocol.events import Event
from protocol.jsonlines import to_json
from protocol.sse import encode_message
from server.stores.store import Store, StoredEvent


@dataclass(frozen=True, slots=True)
class LogLimits:
    max_events: int
    max_bytes: int


class AuditLog:
    """Append with `append`, read with `read`, wait for growth with `wait`."""

    def __init__(self, audit_id: str, limits: LogLimits, store: Store | None = None) -> None:
        self.audit_id = audit_id
        self.limits = limits
        self.dropped = 0  # events refused because the log was full
        self._store = store
        self._entries: list[bytes] = []
        self._appended_at: list[float] = []  # monotonic time of each entry: delivery latency
        self._size = 0
        self._closed = False  # the terminal event is in the log
        self._ending = False  # the terminal event is on its way: no more appends
        self._grown = asyncio.Event()

    @classmethod
    def from_stored(
        cls, audit_id: str, limits: LogLimits, stored: Sequence[StoredEvent]
    ) -> AuditLog:
        """A log rebuilt from the store, for reading only: closed, since nothing appends to it."""
        log = cls(audit_id, limits)
        for entry in stored:
            log._add(encode_message(entry.data, event=entry.type, id=entry.position))
        log._closed = log._ending = True
        return log

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def closed(self) -> bool:
        """True once the terminal event is in: nothing more will ever be appended."""
        return self._closed

    def append(self, event: Event) -> int | None:
        """Add an event; its position, or None when the log is full."""
        if event.terminal:
            raise TypeError("a terminal event ends the log: use `finish`")
        self._refuse_if_ending()
        data = to_json(event)
        if self._full(len(data)):
            self.dropped += 1
            return None
        return self._publish(event, data)

    async def finish(self, terminal: Event) -> int:
        """Append the terminal event and close the log; its position.

        Subscribers see the terminal event only once the store holds it: a client that saw
        an audit end finds it ended after a crash too. The events before it were handed to
        the store earlier, in order, so the same flush makes them durable as well.
        """
        if not terminal.terminal:
            raise TypeError(f"{terminal.type} is not a terminal event")
        self._refuse_if_ending()
        self._ending = True
        data = to_json(terminal)
        if self._store is not None:
            position = len(self._entries) + 1
            self._store.append_event(self.audit_id, StoredEvent(position, terminal.type, data))
            await self._store.flush()
        return self._publish(terminal, data, store=False)

    def _refuse_if_ending(self) -> None:
        if self._ending:
            raise RuntimeError(f"audit {self.audit_id}: append after the terminal event")

    def _publish(self, event: Event, data: str, *, store: bool = True) -> int:
        position = len(self._entries) + 1
        self._add(encode_message(data, event=event.type, id=position))
        if store and self._store is not None:
            self._store.append_event(self.audit_id, StoredEvent(position, event.type, data))
        self._closed = event.terminal
        self._wake()
        return position

    def read(self, after: int, max_bytes: int) -> tuple[bytes, int]:
        """The encoded entries after position `after`, joined, up to about `max_bytes`.

        Returns the bytes and the position of the last entry included; at least one entry
        is included when there is one, however large.
        """
        end = after
        size = 0
        while end < len(self._entries) and (
            size == 0 or size + len(self._entries[end]) <= max_bytes
        ):
            size += len(self._entries[end])
            end += 1
        return b"".join(self._entries[after:end]), end

    async def wait(self, after: int) -> None:
        """Return once the log holds more than `after` entries, or is closed."""
        while len(self._entries) <= after and not self._closed:
            await self._grown.wait()

    def _full(self, data_size: int) -> bool:
        # The last slot and some bytes stay free for the terminal event.
        return (
            len(self._entries) + 1 >= self.limits.max_events
            or self._size + data_size > self.limits.max_bytes
        )

    def appended_at(self, position: int) -> float:
        """When the entry at `position` (1, 2, ...) was added, on the monotonic clock."""
        return self._appended_at[position - 1]

    def _add(self, encoded: bytes) -> None:
        self._entries.append(encoded)
        self._appended_at.append(time.monotonic())
        self._size += len(encoded)

    def _wake(self) -> None:
        # Waiters hold the old Event; a fresh one serves the next growth.
        self._grown.set()
        self._grown = asyncio.Event()
