"""Where events go: msgpack frames on the pipe, JSON lines on stdout, or both; fallback and replay.

    pipe      frames on the pipe fd; if the pipe fails (EBADF, EPIPE, a reader that stalls),
              every event so far is re-sent on stdout, same `seq`, and stdout carries the rest
    stdout    JSON lines on stdout
    validate  both, every event; losing one side leaves the other, nothing to replay
    None      run by hand: no protocol output at all

Each event is encoded once per channel and appended to that channel's buffer; buffers are
written by the event loop without blocking it (pipes and sockets are made non-blocking,
and a write that would block waits for the loop's writability callback). Everything
emitted in one loop iteration leaves in one `os.write`: no syscall per event when busy.
A slow reader applies backpressure through `drain()`; one that accepts nothing for
`channel_stall_timeout` seconds counts as broken, so the audit never deadlocks on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import select
import stat
from collections import deque
from collections.abc import Callable
from typing import Final

from protocol.events import Event
from protocol.framing import encode_frame
from protocol.jsonlines import encode_line
from veritas.config import Limits

# One write call hands the kernel at most this much; a pipe takes 64 KiB at a time anyway.
MAX_WRITE: Final = 256 * 1024

Warn = Callable[[str], None]


class FdWriter:
    """A bounded-by-its-owner byte buffer written to one file descriptor from the event loop."""

    def __init__(self, fd: int, name: str, on_error: Callable[[FdWriter, OSError], None]) -> None:
        mode = os.fstat(fd).st_mode  # raises OSError (EBADF) for a descriptor that is not open
        self.fd = fd
        self.name = name
        self.error: OSError | None = None
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._scheduled = False
        self._watching = False
        self._progress = asyncio.Event()
        self._was_blocking: bool | None = None
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            # Terminals and files stay blocking: they never stall for long, and a terminal's
            # flags are shared with the shell that started us.
            self._was_blocking = os.get_blocking(fd)
            os.set_blocking(fd, False)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        self._buffer += data
        if not (self._scheduled or self._watching):
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._watching:
            self._write_out()

    def _write_out(self) -> None:
        try:
            while self._buffer and self.error is None:
                with memoryview(self._buffer) as view, view[:MAX_WRITE] as chunk:
                    written = os.write(self.fd, chunk)
                del self._buffer[:written]
                self._progress.set()
        except BlockingIOError:
            self._watch(True)
            return
        except OSError as exc:
            self.fail(exc)
            return
        self._watch(False)

    def _watch(self, on: bool) -> None:
        if on and not self._watching:
            self._loop.add_writer(self.fd, self._write_out)
        elif not on and self._watching:
            self._loop.remove_writer(self.fd)
        self._watching = on

    def fail(self, exc: OSError) -> None:
        """Stop using the descriptor for good; pending bytes are dropped."""
        if self.error is not None:
            return
        self.error = exc
        self._watch(False)
        self._buffer.clear()
        self._progress.set()
        self._on_error(self, exc)

    async def wait_below(self, level: int, stall_timeout: float) -> None:
        """Wait until at most `level` bytes are pending; fail the writer if nothing moves."""
        while self.error is None and len(self._buffer) > level:
            self._progress.clear()
            try:
                async with asyncio.timeout(stall_timeout):
                    await self._progress.wait()
            except TimeoutError:
                message = f"the reader took no data for {stall_timeout:g} s"
                self.fail(OSError(errno.ETIMEDOUT, message))

    def close(self, close_fd: bool) -> None:
        """Stop writing; restore the descriptor's blocking mode, and close it if we own it."""
        self._watch(False)
        self._scheduled = False
        with contextlib.suppress(OSError):
            if self._was_blocking is not None:
                os.set_blocking(self.fd, self._was_blocking)
            if close_fd:
                os.close(self.fd)


class Channel:
    """Sends every event to the channel's writers, in order, and falls back without a loss."""

    def __init__(
        self, mode: str | None, pipe_fd: int | None, stdout_fd: int, limits: Limits, warn: Warn
    ) -> None:
        self.mode = mode
        self._limits = limits
        self._warn = warn
        self._stdout_fd = stdout_fd
        self._pipe: FdWriter | None = None
        self._stdout: FdWriter | None = None
        # Kept while the pipe alone carries events, with each event's frame size.
        self._replay: deque[tuple[Event, int]] | None = None
        self._replay_bytes = 0
        self._replay_dropped = 0
        self.fallback_reason: str | None = None
        if mode in ("pipe", "validate"):
            self._pipe = self._open_pipe(pipe_fd)
        if mode in ("stdout", "validate") or (mode == "pipe" and self._pipe is None):
            self._stdout = self._open(stdout_fd, "stdout")
        if mode == "pipe" and self._pipe is not None:
            self._replay = deque()

    @property
    def active_mode(self) -> str | None:
        """What `hello` announces: the channels in use when the audit starts."""
        if self.mode is None:
            return None
        if self._pipe is not None and self._stdout is not None:
            return "validate"
        return "pipe" if self._pipe is not None else "stdout"

    @property
    def lost(self) -> bool:
        """True when a protocol channel was asked for and none is left to write to."""
        return self.mode is not None and self._pipe is None and self._stdout is None

    def _open_pipe(self, fd: int | None) -> FdWriter | None:
        if fd is None:
            return None
        try:
            writable = os.O_WRONLY | os.O_RDWR
            if not fcntl.fcntl(fd, fcntl.F_GETFL) & writable:
                raise OSError(errno.EBADF, "the descriptor is not open for writing")
            return FdWriter(fd, "pipe", self._broken)
        except OSError as exc:
            self.fallback_reason = f"ipc fd {fd} cannot be used: {exc.strerror or exc}"
            self._warn(f"{self.fallback_reason}; events go to stdout from the first one")
            return None

    def _open(self, fd: int, name: str) -> FdWriter | None:
        try:
            return FdWriter(fd, name, self._broken)
        except OSError as exc:
            self._warn(f"{name} cannot be written ({exc.strerror or exc}); events are lost")
            return None

    def send(self, event: Event) -> None:
        if self._pipe is not None:
            frame = encode_frame(event, self._limits.max_frame_size)
            self._pipe.write(frame)
            self._remember(event, len(frame))
        if self._stdout is not None:
            self._stdout.write(encode_line(event))

    def _remember(self, event: Event, size: int) -> None:
        if self._replay is None:
            return
        self._replay.append((event, size))
        self._replay_bytes += size
        while self._replay_bytes > self._limits.max_replay_bytes and self._replay:
            self._replay_bytes -= self._replay.popleft()[1]
            self._replay_dropped += 1

    def _broken(self, writer: FdWriter, exc: OSError) -> None:
        reason = f"{writer.name} write failed: {exc.strerror or exc}"
        writer.close(close_fd=writer is self._pipe)
        if writer is self._pipe:
            self._pipe = None
            self.fallback_reason = reason
            self._fall_back(reason)
        else:
            self._stdout = None
            self._warn(f"{reason}; events continue on the pipe only" if self._pipe else reason)

    def _fall_back(self, reason: str) -> None:
        replay, self._replay = self._replay or deque(), None
        if self.mode == "validate":
            self._warn(f"{reason}; stdout already carries every event")
            return
        self._stdout = self._stdout or self._open(self._stdout_fd, "stdout")
        lost = self._replay_dropped
        dropped = f" ({lost} oldest ones were beyond the replay limit)" if lost else ""
        self._warn(f"{reason}; switching to stdout and re-sending {len(replay)} events{dropped}")
        if self._stdout is not None:
            self._stdout.write(b"".join(encode_line(e) for e, _ in replay))

    async def drain(self) -> None:
        """Backpressure: wait while a channel holds more than its high-water mark."""
        for writer in (self._pipe, self._stdout):
            if writer is not None and writer.pending > self._limits.channel_high_water:
                await writer.wait_below(
                    self._limits.channel_high_water, self._limits.channel_stall_timeout
                )

    def _check_reader(self) -> None:
        """A reader that closed the pipe after our last write: no write would tell us, poll does."""
        if self._pipe is None:
            return
        poller = select.poll()
        poller.register(self._pipe.fd, select.POLLOUT)
        if any(mask & select.POLLERR for _, mask in poller.poll(0)):
            self._pipe.fail(OSError(errno.EPIPE, "the reader closed its end of the pipe"))

    async def aclose(self, grace: float) -> bool:
        """Flush everything within `grace` seconds, then close.

        True when every event reached at least one live channel (always, run by hand).
        """
        flushed = True
        try:
            async with asyncio.timeout(grace):
                if self._pipe is not None:
                    await self._pipe.wait_below(0, grace)
                self._check_reader()
                # The pipe may have failed while flushing, moving its events to stdout.
                if self._stdout is not None:
                    await self._stdout.wait_below(0, grace)
        except TimeoutError:
            flushed = False
            self._warn(f"events still unsent after {grace:g} s at exit were dropped")
        flushed = flushed and not self.lost
        if self._pipe is not None:
            self._pipe.close(close_fd=True)
        if self._stdout is not None:
            self._stdout.close(close_fd=False)  # the caller may still print the result there
        self._pipe = self._stdout = None
        return flushed
