"""The intake of one auditor's events: its channels read, decoded, de-duplicated and put in order.

    intake = Intake(sink, audit_id="a1", mode="pipe", limits=IntakeLimits())
    await intake.open(stdout_fd=..., stderr_fd=..., ipc_fd=...)   # read ends, now owned here
    ...                                  # events reach the sink as the bytes arrive
    await intake.wait_closed(within=2.0) # every channel at end of stream, or given up on
    intake.finish(count_unmatched=True)  # release held events; the counters are final

Three channels, all read with `loop.connect_read_pipe` and a protocol that decodes in
`data_received` (the fastest reader measured here, and flow control comes free: nothing is
read while the previous chunk is still being handed on, and the sink never blocks):

    ipc     msgpack frames (`FrameDecoder`); a bad frame closes it for good -> fallback
    stdout  `##VERITAS ` JSON lines (`LineDecoder`), read in every mode; other lines are logged
    stderr  text, logged (bounded) and kept as a short tail for crash messages

The `Sequencer` accepts each worker `seq` once, whichever channel brings it first, and holds
early arrivals in a bounded reorder buffer. Work is per read, not per event: all frames
or lines of one read are decoded, validated and de-duplicated, then handed to the sink in
one `extend` (one batch for the log and the store, one wake-up of the subscribers).
Process supervision lives in `server.streaming.runner`; the benchmarks drive an `Intake`
directly with a synthetic emitter.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from protocol.errors import ProtocolError, SchemaError
from protocol.events import IPC_MODES, SERVER_TYPES, Event, new_event, seqs_of, types_of
from protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder
from protocol.jsonlines import DEFAULT_MAX_LINE_SIZE, ForeignLine, LineDecoder

logger: Final = logging.getLogger("server.worker")

DEFAULT_REORDER_LIMIT: Final = 4096
DEFAULT_COMPARE_LIMIT: Final = 16384
DEFAULT_STDERR_TAIL_LINES: Final = 40
DEFAULT_LOG_LINES: Final = 200
DEFAULT_LOG_LINE_CHARS: Final = 2000
_NOTED_TYPES: Final = frozenset({"audit_result", "phase_error"})  # the intake keeps a field


class EventSink(Protocol):
    def append(self, event: Event) -> None: ...
    def extend(self, events: list[Event]) -> None:
        """A read's worth of events, in order."""


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """Every buffer the intake keeps, bounded."""

    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_line_size: int = DEFAULT_MAX_LINE_SIZE
    reorder_limit: int = DEFAULT_REORDER_LIMIT  # events held while a lower seq is missing
    compare_limit: int = DEFAULT_COMPARE_LIMIT  # validate mode: events awaiting their twin
    stderr_tail_lines: int = DEFAULT_STDERR_TAIL_LINES
    log_lines: int = DEFAULT_LOG_LINES  # per stream and audit, then a count of the rest
    log_line_chars: int = DEFAULT_LOG_LINE_CHARS  # longer stderr/stdout text lines are cut


class Sequencer:
    """Hands each worker event on once, in `seq` order, whichever channel brings it first.

    With `compare` on (validate mode) every event is expected on two channels; the second
    copy is compared with the first, map for map, `ts` included, and a difference counts
    as a mismatch.
    """

    def __init__(
        self,
        deliver: Callable[[Event], None],
        *,
        deliver_many: Callable[[list[Event]], None] | None = None,
        reorder_limit: int = DEFAULT_REORDER_LIMIT,
        compare: bool = False,
        compare_limit: int = DEFAULT_COMPARE_LIMIT,
    ) -> None:
        self._deliver = deliver
        self._deliver_many = deliver_many or self._deliver_each
        self.reorder_limit = reorder_limit
        self.compare_limit = compare_limit
        self.comparing = compare
        self.next_seq = 1
        self._held: dict[int, Event] = {}
        self._unmatched: dict[int, tuple[str, Event]] = {}  # first copies awaiting their twin
        self.accepted = 0
        self.duplicates = 0
        self.mismatches = 0
        self.uncompared = 0
        self.gaps = 0

    def is_new(self, seq: int) -> bool:
        return seq >= self.next_seq and seq not in self._held

    def offer(self, event: Event, channel: str) -> bool:
        """Accept, hold or drop `event`; True when its seq had not been seen before."""
        if self.comparing:
            self._compare(event, channel)
        if not self.is_new(event.seq):
            self.duplicates += 1
            return False
        if event.seq == self.next_seq:
            self._accept(event)
            self._release()
        else:
            self._hold(event)
        return True

    def offer_many(self, events: list[Event], channel: str) -> None:
        """`offer` each event in turn; the common case (the next seqs in order, nothing
        held, no comparing) is decided for the whole batch at once."""
        if not events:
            return
        first = self.next_seq
        if (
            not self.comparing
            and not self._held
            and events[-1].seq == first + len(events) - 1
            and seqs_of(events) == list(range(first, first + len(events)))
        ):
            self.next_seq += len(events)
            self.accepted += len(events)
            self._deliver_many(events)
            return
        for event in events:
            self.offer(event, channel)

    def _deliver_each(self, events: list[Event]) -> None:
        for event in events:
            self._deliver(event)

    def stop_comparing(self) -> None:
        """One channel is gone: its missing copies are no longer differences."""
        self.comparing = False
        self._unmatched.clear()

    def finish(self, *, count_unmatched: bool) -> None:
        """End of input: release held events across their gaps; copies without a twin count
        as mismatches when both channels were meant to run to the end."""
        while self._held:
            self._skip_gap()
        if self.comparing and count_unmatched:
            self.mismatches += len(self._unmatched)
        self.stop_comparing()

    def _compare(self, event: Event, channel: str) -> None:
        twin = self._unmatched.pop(event.seq, None)
        if twin is None or twin[0] == channel:
            # A re-send on the same channel is no comparison; keep the first copy waiting.
            self._await_twin(event.seq, twin or (channel, event))
        elif twin[1] != event:
            self.mismatches += 1

    def _await_twin(self, seq: int, copy: tuple[str, Event]) -> None:
        if len(self._unmatched) >= self.compare_limit:
            del self._unmatched[next(iter(self._unmatched))]
            self.uncompared += 1
        self._unmatched[seq] = copy

    def _hold(self, event: Event) -> None:
        self._held[event.seq] = event
        if len(self._held) > self.reorder_limit:
            # The missing seqs are not coming in time; order beats completeness here.
            self._skip_gap()

    def _skip_gap(self) -> None:
        self.gaps += 1
        self.next_seq = min(self._held)
        self._release()

    def _release(self) -> None:
        while (event := self._held.pop(self.next_seq, None)) is not None:
            self._accept(event)

    def _accept(self, event: Event) -> None:
        self.next_seq = event.seq + 1
        self.accepted += 1
        self._deliver(event)


class BoundedLog:
    """Logs at most `limit` lines of one stream of one audit, then only how many it dropped."""

    def __init__(self, audit_id: str, stream: str, limit: int, chars: int) -> None:
        self.audit_id = audit_id
        self.stream = stream
        self.limit = limit
        self.chars = chars
        self.count = 0

    def line(self, level: int, text: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            logger.log(level, "audit %s %s: %s", self.audit_id, self.stream, text[: self.chars])

    def close(self) -> None:
        if self.count > self.limit:
            dropped = self.count - self.limit
            logger.warning(
                "audit %s %s: %d more lines not logged", self.audit_id, self.stream, dropped
            )


class TextLines:
    """Splits a byte stream into text lines, none held longer than `chars` bytes."""

    def __init__(self, chars: int) -> None:
        self.chars = chars
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        if len(self._buffer) > self.chars:
            lines.append(self._buffer)
            self._buffer = bytearray()
        return [_text(line[: self.chars]) for line in lines]

    def end(self) -> list[str]:
        rest, self._buffer = self._buffer, bytearray()
        return [_text(rest)] if rest else []


def _text(line: bytes | bytearray) -> str:
    return line.rstrip(b"\r").decode("utf-8", "replace")


class ChannelReader(asyncio.Protocol):
    """One read pipe: each chunk goes to `on_data` at once; `done` resolves at its end."""

    def __init__(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self._on_data = on_data
        self._on_end = on_end
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool:
        return False  # close the transport: a pipe has nothing to send back

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._on_end()
        finally:
            if not self.done.done():
                self.done.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Intake:
    """The channels of one worker, decoded into one exactly-once, in-order event stream."""

    def __init__(
        self, sink: EventSink, *, audit_id: str, mode: str, limits: IntakeLimits | None = None
    ) -> None:
        if mode not in IPC_MODES:
            raise ValueError(f"ipc mode {mode!r} is not one of {', '.join(IPC_MODES)}")
        self.limits = limits = limits or IntakeLimits()
        self._sink = sink
        self.audit_id = audit_id
        self.mode = mode
        self.sequencer = Sequencer(
            self._deliver,
            deliver_many=self._deliver_many,
            reorder_limit=limits.reorder_limit,
            compare=mode == "validate",
            compare_limit=limits.compare_limit,
        )
        self.fallbacks: list[str] = []
        self.result: Mapping[str, Any] | None = None
        self.last_error: str | None = None  # the worker's own last word on what went wrong
        self.first_event_at: float | None = None  # loop time of the first accepted event
        self.stderr_tail: deque[str] = deque(maxlen=limits.stderr_tail_lines)
        self._frames = FrameDecoder(limits.max_frame_size)
        self._lines = LineDecoder(limits.max_line_size)
        self._stderr_lines = TextLines(limits.log_line_chars)
        self._stdout_log = BoundedLog(audit_id, "stdout", limits.log_lines, limits.log_line_chars)
        self._stderr_log = BoundedLog(audit_id, "stderr", limits.log_lines, limits.log_line_chars)
        self._readers: dict[str, ChannelReader] = {}
        self._outbox: list[Event] = []  # accepted during the current read, in order
        self._on_pipe = mode != "stdout"  # events are expected from the ipc pipe
        self._pipe_broken = False
        self._closed = False

    @property
    def channel(self) -> str:
        """The channel the events finally come from."""
        return "pipe" if self._on_pipe else "stdout"

    # -- wiring ---------------------------------------------------------------------------

    async def open(self, *, stdout_fd: int, stderr_fd: int, ipc_fd: int | None) -> None:
        """Start reading the given read ends; they belong to the intake from now on."""
        if ipc_fd is None and self._on_pipe:
            raise RuntimeError("an ipc pipe is required until pipe_unavailable() is called")
        fds = {"stdout": stdout_fd, "stderr": stderr_fd, "ipc": ipc_fd}
        files = {
            name: os.fdopen(fd, "rb", buffering=0) for name, fd in fds.items() if fd is not None
        }
        handlers = {
            "ipc": (self._pipe_data, self._pipe_end),
            "stdout": (self._stdout_data, self._stdout_end),
            "stderr": (self._stderr_data, self._stderr_end),
        }
        try:
            for name, file in files.items():
                self._readers[name] = await _connect(file, ChannelReader(*handlers[name]))
        except BaseException:
            self.close()
            for file in files.values():
                file.close()
            raise

    def pipe_unavailable(self, reason: str) -> None:
        """The pipe could not be made or passed: the worker runs on stdout alone."""
        self._fall_back(reason)

    async def wait_closed(self, within: float) -> bool:
        """Wait for every channel's end of stream; past `within` seconds, close what is left.

        True when all ended by themselves. A worker's own children can hold its pipes open
        after it exits, so the wait after exit must be bounded.
        """
        pending = [reader.done for reader in self._readers.values()]
        if pending:
            _, still_open = await asyncio.wait(pending, timeout=within)
            if still_open:
                self.close()
                await asyncio.wait(still_open)
                return False
        return True

    def close(self) -> None:
        """Stop reading now: nothing read from here on reaches the sink."""
        self._closed = True
        for reader in self._readers.values():
            reader.close()

    def finish(self, *, count_unmatched: bool) -> None:
        self.close()
        self.sequencer.finish(count_unmatched=count_unmatched)
        self._hand_on()
        if self.sequencer.gaps:
            logger.warning(
                "audit %s: %d gaps in the worker's seq numbers were skipped",
                self.audit_id,
                self.sequencer.gaps,
            )
        self._stdout_log.close()
        self._stderr_log.close()

    # -- channels -------------------------------------------------------------------------

    def _pipe_data(self, data: bytes) -> None:
        if self._closed or self._pipe_broken:
            return
        events: list[Event] = []
        error: ProtocolError | None = None
        try:
            self._frames.feed(data)
            self._frames.decode_into(events)  # a read's frames at once, up to a bad one
        except ProtocolError as exc:
            error = exc
        try:
            error = self._offer_worker_events(events, "pipe") or error
            if error is not None:
                self._break_pipe(f"bad frame from the worker: {error}")
        finally:
            self._hand_on()

    def _offer_worker_events(self, events: list[Event], channel: str) -> SchemaError | None:
        """Offer `events` up to the first server event (refused: returned, not offered)."""
        refused: Event | None = None
        types = types_of(events)
        if not SERVER_TYPES.isdisjoint(types):
            index = next(i for i, type_ in enumerate(types) if type_ in SERVER_TYPES)
            refused, events = events[index], events[:index]
        if not self._closed:
            self.sequencer.offer_many(events, channel)
        return None if refused is None else _server_event_error(refused)

    def _pipe_end(self) -> None:
        if self._frames.buffered and not (self._closed or self._pipe_broken):
            logger.warning(
                "audit %s ipc: pipe ended inside a frame (%d bytes dropped)",
                self.audit_id,
                self._frames.buffered,
            )

    def _break_pipe(self, reason: str) -> None:
        # Closing our end makes the worker's next write fail with EPIPE: it then re-sends
        # everything on stdout, where duplicates are dropped by seq.
        self._pipe_broken = True
        reader = self._readers.get("ipc")
        if reader is not None:
            reader.close()
        if self._on_pipe:
            self._fall_back(reason)
        else:
            logger.warning("audit %s ipc: %s", self.audit_id, reason)

    def _stdout_data(self, data: bytes) -> None:
        if self._closed:
            return
        self._lines.feed(data)
        try:
            self._stdout_items()
        finally:
            self._hand_on()

    def _stdout_items(self) -> None:
        while True:
            try:
                item = next(self._lines)
            except StopIteration:
                return
            except ProtocolError as exc:
                self._stdout_log.line(logging.WARNING, f"bad event line dropped: {exc}")
                continue
            if isinstance(item, ForeignLine):
                self._stdout_log.line(logging.WARNING, _text(item.text))
            else:
                self._stdout_event(item)

    def _stdout_event(self, event: Event) -> None:
        try:
            _require_worker_event(event)
        except SchemaError as exc:
            self._stdout_log.line(logging.WARNING, f"event line dropped: {exc}")
            return
        if self.mode == "pipe" and self._on_pipe and self.sequencer.is_new(event.seq):
            self._fall_back("the worker switched to stdout")
        self._offer(event, "stdout")

    def _stdout_end(self) -> None:
        tail = self._lines.end_of_stream()
        if tail and not self._closed:
            self._stdout_log.line(logging.WARNING, f"unterminated last line: {_text(tail)}")

    def _stderr_data(self, data: bytes) -> None:
        for line in self._stderr_lines.feed(data):
            self._stderr_line(line)

    def _stderr_end(self) -> None:
        for line in self._stderr_lines.end():
            self._stderr_line(line)

    def _stderr_line(self, line: str) -> None:
        self.stderr_tail.append(line)
        self._stderr_log.line(logging.INFO, line)

    # -- events ---------------------------------------------------------------------------

    def _offer(self, event: Event, channel: str) -> None:
        if not self._closed:
            self.sequencer.offer(event, channel)

    def _deliver(self, event: Event) -> None:
        self._deliver_many([event])

    def _deliver_many(self, events: list[Event]) -> None:
        """Hand on accepted events, in seq order."""
        if self.first_event_at is None:
            self.first_event_at = asyncio.get_running_loop().time()
        noted = not _NOTED_TYPES.isdisjoint(types_of(events))  # rare: look at each then
        for event in events if noted else ():
            if event.type in _NOTED_TYPES:
                if event.type == "audit_result":
                    self.result = event["result"]
                else:
                    self.last_error = event["error"]
        self._outbox += events

    def _hand_on(self) -> None:
        if self._outbox:
            batch, self._outbox = self._outbox, []
            self._sink.extend(batch)

    def _fall_back(self, reason: str) -> None:
        self._on_pipe = False
        self.fallbacks.append(reason)
        self.sequencer.stop_comparing()
        logger.warning("audit %s: falling back to stdout: %s", self.audit_id, reason)
        self._outbox.append(fallback_event(reason))  # in its place among the events
        self._hand_on()


def fallback_event(reason: str) -> Event:
    channels: dict[str, Any] = {"from": "pipe", "to": "stdout"}  # `from` is a keyword
    return new_event("ipc_fallback", 0, reason=reason, **channels)


async def _connect(file: Any, reader: ChannelReader) -> ChannelReader:
    await asyncio.get_running_loop().connect_read_pipe(lambda: reader, file)
    return reader


def _require_worker_event(event: Event) -> None:
    if event.from_server:
        raise _server_event_error(event)


def _server_event_error(event: Event) -> SchemaError:
    return SchemaError("type", f"{event.type!r} is a server event; a worker may not send it")
