"""The event log of one audit: append-only, position = SSE id, each event encoded to SSE once.

Subscribers are cursors into the log (server/streaming/sse.py): they read the encoded bytes after
their position and wait for the log to grow. The log never waits for them, so a slow
reader only falls behind on its own cursor.

Visible means durable. Every batch of appended events (one read from the worker) gets its
positions at once and is handed to the `Store` as one batch (the exact JSON text of each
SSE `data:` line); the entries wait, staged, until the store has committed them, and only
then do subscribers see them, woken once per commit. So whatever id a client has seen
names the same event after any crash, and the restarted server's terminal event comes
after it. Without a store (tests, benchmarks) or with `durable_visibility` off (the
benchmarks' baseline), events are visible at once and only the terminal event waits for
the store's flush.

A store that fails stops the log: `failure` says why, staged entries are never shown, and
subscribers' streams end (a reconnect is refused with 503 while the store is down).

The log is bounded (`LogLimits`): past the limit worker events are dropped and counted,
but one slot is always kept for the terminal event, after which the log is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

from protocol.events import TERMINAL_TYPES, Event, types_of
from protocol.jsonlines import to_json, to_json_many
from protocol.sse import encode_entries, encode_message
from server.stores.errors import StoreUnavailable
from server.stores.store import EventRun, Store, StoredEvent


@dataclass(frozen=True, slots=True)
class LogLimits:
    max_events: int
    max_bytes: int


class AuditLog:
    """Append with `append`/`extend`, read with `read`, wait for growth with `wait`."""

    def __init__(
        self,
        audit_id: str,
        limits: LogLimits,
        store: Store | None = None,
        *,
        durable_visibility: bool = True,
    ) -> None:
        self.audit_id = audit_id
        self.limits = limits
        self.dropped = 0  # events refused because the log (or the store's backlog) was full
        self.failure: str | None = None  # the store stopped: nothing more becomes visible
        self._store = store
        self._staged_mode = store is not None and durable_visibility
        # Every entry appended, in position order: the first `_shown` are visible, the rest
        # await their commit. One list and a boundary, so a commit shows a run in O(1).
        self._entries: list[bytes] = []
        self._shown = 0
        self._appended_at: list[float] = []  # monotonic time of each position's append
        self._size = 0
        self._terminal_at = 0  # the terminal event's position, once it has one
        self._closed = False  # the terminal event is visible
        self._ending = False  # the terminal event is on its way: no more appends
        self._grown = asyncio.Event()

    @classmethod
    def from_stored(
        cls, audit_id: str, limits: LogLimits, stored: Sequence[StoredEvent]
    ) -> AuditLog:
        """A log rebuilt from the store, for reading only: closed, since nothing appends to it."""
        log = cls(audit_id, limits)
        log.restore(stored)
        log._closed = log._ending = True
        return log

    def restore(self, stored: Iterable[StoredEvent]) -> int:
        """Show events the store already holds (acknowledged: nothing waits for a commit):
        those after the last position held, in order, up to a hole or the terminal event,
        which closes the log. For a log rebuilt from the store, or one that mirrors what
        another instance appends. The number of events shown."""
        if self.staged:
            raise RuntimeError(f"audit {self.audit_id}: restore while appends await a commit")
        for event in stored:
            if event.position < self._next_position:
                continue  # already held
            if event.position != self._next_position or self._ending:
                break  # a hole cannot be shown: the caller reads again from the end
            self._stage(encode_message(event.data, event=event.type, id=event.position))
            if event.type in TERMINAL_TYPES:
                self._terminal_at = event.position
                self._ending = True
        shown = len(self._entries) - self._shown  # all staged just now
        if shown:
            self._show(shown)
        return shown

    def __len__(self) -> int:
        """The number of visible entries: the highest id a subscriber can have seen."""
        return self._shown

    @property
    def closed(self) -> bool:
        """True once the terminal event is visible: nothing more will ever be appended."""
        return self._closed

    @property
    def ended(self) -> bool:
        """Nothing more will become visible: closed, or stopped by a store failure."""
        return self._closed or self.failure is not None

    @property
    def staged(self) -> int:
        """Entries appended but not yet committed (so not yet visible)."""
        return len(self._entries) - self._shown

    def append(self, event: Event) -> int | None:
        """Add one event; its position, or None when it was dropped."""
        return self.extend((event,))[0]

    def extend(self, events: Iterable[Event]) -> list[int | None]:
        """Add a batch of events (one read's worth) with one hand-over to the store;
        each one's position, or None for each event dropped."""
        self._refuse_if_ending()
        batch = events if isinstance(events, list) else list(events)
        if not batch:
            return []
        types = types_of(batch)
        if not TERMINAL_TYPES.isdisjoint(types):
            raise TypeError("a terminal event ends the log: use `finish`")
        # The whole batch at once, no step per event: a flood's events come thousands a read.
        datas = to_json_many(batch)
        first = self._next_position
        entries = encode_entries(first, types, datas)
        size = sum(map(len, entries))
        if first + len(batch) > self.limits.max_events or self._size + size > self.limits.max_bytes:
            return self._extend_each(types, datas)  # near a limit: event by event, as it fills
        self._entries += entries
        self._appended_at += repeat(time.monotonic(), len(entries))
        self._size += size
        run = EventRun(first, types, datas, ascii=all(map(str.isascii, datas)))
        if not self._hand_on(run):
            return [None] * len(batch)
        return list(range(first, first + len(batch)))

    def _extend_each(self, types: list[str], datas: list[str]) -> list[int | None]:
        stored: list[StoredEvent] = []
        positions: list[int | None] = []
        for type_, data in zip(types, datas, strict=True):
            if self._full(len(data)):
                self.dropped += 1
                positions.append(None)
                continue
            position = self._next_position
            self._stage(encode_message(data, event=type_, id=position))
            stored.append(StoredEvent(position, type_, data))
            positions.append(position)
        if stored and not self._hand_on(stored):
            positions = [None] * len(positions)
        return positions

    async def finish(self, terminal: Event) -> int:
        """Append the terminal event and close the log; its position.

        Subscribers see the terminal event only once the store holds it (and every event
        before it): a client that saw an audit end finds it ended after a crash too.
        `StoreUnavailable` when the store has failed: the log then ends without it.
        """
        if not terminal.terminal:
            raise TypeError(f"{terminal.type} is not a terminal event")
        self._refuse_if_ending()
        self._ending = True
        data = to_json(terminal)
        position = self._terminal_at = self._next_position
        self._stage(encode_message(data, event=terminal.type, id=position))
        if self._store is None:
            self.committed(position)
            return position
        stored = StoredEvent(position, terminal.type, data)
        try:
            listener = self if self._staged_mode else None
            if not self._store.append_events(self.audit_id, (stored,), listener):
                raise StoreUnavailable("the store is closed")
            await self._store.flush()
        except StoreUnavailable as exc:
            self.failed(str(exc))
            raise
        self.committed(position)  # already done by the store's commit in staged mode
        return position

    # -- the store's CommitListener

    def committed(self, position: int) -> None:
        """Everything up to `position` is durable: show it, wake the subscribers once."""
        count = min(position, len(self._entries)) - self._shown
        if count > 0 and self.failure is None:
            self._show(count)

    def failed(self, reason: str) -> None:
        """The store stopped: staged entries are never shown; subscribers' streams end."""
        if self.failure is None:
            self.failure = reason
            del self._entries[self._shown :]
            self._wake()

    # -- reading

    def read(self, after: int, max_bytes: int) -> tuple[bytes, int]:
        """The encoded entries after position `after`, joined, up to about `max_bytes`.

        Returns the bytes and the position of the last entry included; at least one entry
        is included when there is one, however large.
        """
        end = after
        size = 0
        while end < self._shown and (size == 0 or size + len(self._entries[end]) <= max_bytes):
            size += len(self._entries[end])
            end += 1
        return b"".join(self._entries[after:end]), end

    async def wait(self, after: int) -> None:
        """Return once the log shows more than `after` entries, or has ended."""
        while self._shown <= after and not self.ended:
            await self._grown.wait()

    async def changed(self) -> None:
        """Return at the next growth, the end, or a `nudge`: whichever comes first."""
        await self._grown.wait()

    def nudge(self) -> None:
        """Wake everyone waiting in `changed`, with nothing new (the ping clock's beat)."""
        self._wake()

    def appended_at(self, position: int) -> float:
        """When the entry at `position` (1, 2, ...) was appended, on the monotonic clock."""
        return self._appended_at[position - 1]

    # -- inside

    @property
    def _next_position(self) -> int:
        return len(self._entries) + 1

    def _refuse_if_ending(self) -> None:
        if self._ending:
            raise RuntimeError(f"audit {self.audit_id}: append after the terminal event")

    def _full(self, data_size: int) -> bool:
        # The last slot and some bytes stay free for the terminal event.
        return (
            self._next_position >= self.limits.max_events
            or self._size + data_size > self.limits.max_bytes
        )

    def _stage(self, encoded: bytes) -> None:
        self._entries.append(encoded)
        self._appended_at.append(time.monotonic())
        self._size += len(encoded)

    def _hand_on(self, stored: Sequence[StoredEvent]) -> bool:
        """Give a staged batch to the store; False (and nothing kept) if it was refused."""
        if self._store is None:
            self.committed(stored[-1].position)
            return True
        if not self._staged_mode:
            self.committed(stored[-1].position)  # visible first: the baseline's order
            self._store.append_events(self.audit_id, stored)
            return True
        try:
            accepted = self._store.append_events(self.audit_id, stored, self)
        except StoreUnavailable as exc:
            self.failed(str(exc))
            return False
        if not accepted:  # the store's backlog is full: these positions were never used
            self._unstage(len(stored))
            self.dropped += len(stored)
        return accepted

    def _unstage(self, count: int) -> None:
        for _ in range(count):
            self._size -= len(self._entries.pop())
            self._appended_at.pop()

    def _show(self, count: int) -> None:
        self._shown += count
        self._closed = self._terminal_at != 0 and self._shown >= self._terminal_at
        self._wake()

    def _wake(self) -> None:
        # Waiters hold the old Event; a fresh one serves the next growth.
        self._grown.set()
        self._grown = asyncio.Event()
