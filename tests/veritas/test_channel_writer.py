"""The channel in-process: a reader that stalls is given up on, and nothing is lost."""

from __future__ import annotations

import asyncio
import fcntl
import os

from protocol.jsonlines import LineDecoder
from veritas.channel import Channel
from veritas.config import Limits
from veritas.emitter import Emitter


def read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


async def test_a_stalled_pipe_reader_moves_every_event_to_stdout() -> None:
    pipe_r, pipe_w = os.pipe()
    out_r, out_w = os.pipe()
    fcntl.fcntl(out_w, fcntl.F_SETPIPE_SZ, 1 << 20)  # stdout's reader reads only at the end
    warnings: list[str] = []
    limits = Limits(channel_high_water=4096, channel_stall_timeout=0.2)
    channel = Channel("pipe", pipe_w, out_w, limits, warnings.append)
    emitter = Emitter(channel)
    # Far more than a pipe holds (64 KiB), and the pipe's reader never reads.
    for _ in range(200):
        emitter.log("test", "info", "x" * 1000)
        await emitter.drain()
    assert await channel.aclose(5)
    os.close(out_w)
    assert len(warnings) == 1 and "took no data for 0.2 s" in warnings[0]
    decoder = LineDecoder()
    decoder.feed(read_available(out_r))
    assert [getattr(e, "seq", None) for e in decoder] == list(range(1, 201))
    os.close(pipe_r)
    os.close(out_r)


async def test_after_fallback_stdout_carries_seq_1_to_n() -> None:
    pipe_r, pipe_w = os.pipe()
    out_r, out_w = os.pipe()
    channel = Channel("pipe", pipe_w, out_w, Limits(), lambda _: None)
    emitter = Emitter(channel)
    for _ in range(5):
        emitter.log("test", "info", "before")
    await channel.drain()
    os.close(pipe_r)  # the reader goes away: the next write gets EPIPE
    for _ in range(5):
        emitter.log("test", "info", "after")
    assert await channel.aclose(5)
    os.close(out_w)
    decoder = LineDecoder()
    decoder.feed(read_available(out_r))
    assert [getattr(e, "seq", None) for e in decoder] == list(range(1, 11))
    os.close(out_r)


async def test_a_reader_gone_after_the_last_write_still_gets_the_replay_at_close() -> None:
    pipe_r, pipe_w = os.pipe()
    out_r, out_w = os.pipe()
    warnings: list[str] = []
    channel = Channel("pipe", pipe_w, out_w, Limits(), warnings.append)
    emitter = Emitter(channel)
    for _ in range(3):
        emitter.log("test", "info", "all of these fit in the pipe")
    await channel.drain()
    await asyncio.sleep(0)  # let the loop write them
    os.close(pipe_r)  # nothing is written after this: only a poll can tell
    assert await channel.aclose(5)
    os.close(out_w)
    assert len(warnings) == 1 and "closed its end" in warnings[0]
    decoder = LineDecoder()
    decoder.feed(read_available(out_r))
    assert [getattr(e, "seq", None) for e in decoder] == [1, 2, 3]
    os.close(out_r)
