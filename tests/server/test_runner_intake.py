"""The intake without a worker process: the sequencer alone, then real pipes written by the test."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.events import Event, new_event
from protocol.framing import HEADER, encode_frame
from protocol.jsonlines import encode_line
from server.streaming.intake import Intake, IntakeLimits, Sequencer, TextLines


def log_event(seq: int, message: str = "m", ts: float = 1.0) -> Event:
    return new_event("log_entry", seq, ts=ts, agent="a", level="info", message=message)


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, event: Event) -> None:
        self.events.append(event)

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.append(event)


# -- Sequencer -----------------------------------------------------------------------------


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, list[str]]:
    """n events on each of two channels, in order per channel, interleaved at random."""
    n = draw(st.integers(min_value=0, max_value=60))
    order = draw(st.permutations(["pipe"] * n + ["stdout"] * n))
    return n, order


@given(interleavings())
def test_two_channels_in_any_interleaving_deliver_each_seq_once_in_order(
    case: tuple[int, list[str]],
) -> None:
    n, order = case
    delivered: list[int] = []
    sequencer = Sequencer(lambda e: delivered.append(e.seq), compare=True)
    positions = {"pipe": 0, "stdout": 0}
    for channel in order:
        positions[channel] += 1
        sequencer.offer(log_event(positions[channel]), channel)
    sequencer.finish(count_unmatched=True)
    assert delivered == list(range(1, n + 1))
    assert sequencer.duplicates == n
    assert sequencer.mismatches == 0


@given(st.permutations(list(range(1, 41))))
def test_out_of_order_arrivals_within_the_reorder_limit_come_out_in_order(
    arrivals: list[int],
) -> None:
    delivered: list[int] = []
    sequencer = Sequencer(lambda e: delivered.append(e.seq), reorder_limit=40)
    for seq in arrivals:
        assert sequencer.offer(log_event(seq), "stdout")
    assert delivered == list(range(1, 41))
    assert sequencer.gaps == 0


@given(st.lists(st.integers(min_value=1, max_value=30), max_size=200), st.integers(1, 5))
def test_any_arrivals_never_deliver_a_seq_twice_or_out_of_order(
    arrivals: list[int], reorder_limit: int
) -> None:
    delivered: list[int] = []
    sequencer = Sequencer(lambda e: delivered.append(e.seq), reorder_limit=reorder_limit)
    for seq in arrivals:
        sequencer.offer(log_event(seq), "stdout")
    sequencer.finish(count_unmatched=False)
    assert delivered == sorted(set(delivered))
    assert set(delivered) <= set(arrivals)


@given(st.lists(st.integers(min_value=1, max_value=30), max_size=200), st.integers(1, 5))
def test_offer_many_delivers_and_counts_exactly_as_offer_one_by_one(
    arrivals: list[int], reorder_limit: int
) -> None:
    one: list[int] = []
    many: list[int] = []
    singly = Sequencer(lambda e: one.append(e.seq), reorder_limit=reorder_limit)
    batched = Sequencer(lambda e: many.append(e.seq), reorder_limit=reorder_limit)
    events = [log_event(seq) for seq in arrivals]
    for event in events:
        singly.offer(event, "pipe")
    for start in range(0, len(events), 7):  # reads of a few events
        batched.offer_many(events[start : start + 7], "pipe")
    assert many == one
    counters = ("next_seq", "accepted", "duplicates", "gaps")
    assert [getattr(batched, c) for c in counters] == [getattr(singly, c) for c in counters]


@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 12)), max_size=30), st.integers(1, 5))
def test_runs_handed_on_at_once_match_offer_one_by_one(
    runs: list[tuple[int, int]], reorder_limit: int
) -> None:
    # Reads mostly bring the next seqs in order: those go on as one batch (`deliver_many`).
    one: list[int] = []
    many: list[int] = []
    batches: list[int] = []

    def deliver_many(events: list[Event]) -> None:
        batches.append(len(events))
        many.extend(e.seq for e in events)

    singly = Sequencer(lambda e: one.append(e.seq), reorder_limit=reorder_limit)
    batched = Sequencer(
        lambda e: many.append(e.seq), deliver_many=deliver_many, reorder_limit=reorder_limit
    )
    for first, length in runs:
        events = [log_event(seq) for seq in range(first, first + length)]
        for event in events:
            singly.offer(event, "pipe")
        batched.offer_many(events, "pipe")
    assert many == one
    counters = ("next_seq", "accepted", "duplicates", "gaps")
    assert [getattr(batched, c) for c in counters] == [getattr(singly, c) for c in counters]


def test_a_full_reorder_buffer_skips_the_gap_and_a_late_event_is_dropped() -> None:
    delivered: list[int] = []
    sequencer = Sequencer(lambda e: delivered.append(e.seq), reorder_limit=2)
    for seq in (3, 4):
        sequencer.offer(log_event(seq), "stdout")
    assert delivered == []
    sequencer.offer(log_event(5), "stdout")
    assert delivered == [3, 4, 5]
    assert sequencer.gaps == 1
    assert not sequencer.offer(log_event(1), "stdout")
    assert delivered == [3, 4, 5]


def test_finish_releases_held_events_across_their_gaps() -> None:
    delivered: list[int] = []
    sequencer = Sequencer(lambda e: delivered.append(e.seq))
    for seq in (1, 3, 6, 7):
        sequencer.offer(log_event(seq), "stdout")
    assert delivered == [1]
    sequencer.finish(count_unmatched=False)
    assert delivered == [1, 3, 6, 7]
    assert sequencer.gaps == 2


def test_compare_counts_a_difference_and_ts_is_part_of_the_event() -> None:
    sequencer = Sequencer(lambda e: None, compare=True)
    sequencer.offer(log_event(1), "pipe")
    sequencer.offer(log_event(1, message="other"), "stdout")
    sequencer.offer(log_event(2, ts=1.0), "pipe")
    sequencer.offer(log_event(2, ts=2.0), "stdout")
    sequencer.offer(log_event(3), "stdout")
    sequencer.offer(log_event(3), "pipe")
    assert sequencer.mismatches == 2


def test_a_resend_on_the_same_channel_is_not_a_comparison() -> None:
    sequencer = Sequencer(lambda e: None, compare=True)
    sequencer.offer(log_event(1), "stdout")
    sequencer.offer(log_event(1, message="re-sent differently"), "stdout")
    sequencer.offer(log_event(1), "pipe")
    sequencer.finish(count_unmatched=True)
    assert sequencer.mismatches == 0


def test_events_seen_on_one_channel_only_count_when_both_should_have_run_to_the_end() -> None:
    for count_unmatched, expected in ((True, 2), (False, 0)):
        sequencer = Sequencer(lambda e: None, compare=True)
        for seq in (1, 2, 3):
            sequencer.offer(log_event(seq), "pipe")
        sequencer.offer(log_event(1), "stdout")
        sequencer.finish(count_unmatched=count_unmatched)
        assert sequencer.mismatches == expected


def test_awaiting_twins_is_bounded() -> None:
    sequencer = Sequencer(lambda e: None, compare=True, compare_limit=3)
    for seq in range(1, 6):
        sequencer.offer(log_event(seq), "pipe")
    assert sequencer.uncompared == 2
    sequencer.finish(count_unmatched=True)
    assert sequencer.mismatches == 3


def test_text_lines_are_split_and_bounded() -> None:
    lines = TextLines(chars=8)
    assert lines.feed(b"one\ntw") == ["one"]
    assert lines.feed(b"o\r\n" + b"x" * 20) == ["two", "x" * 8]
    assert lines.feed(b"tail") == []
    assert lines.end() == ["tail"]
    assert lines.end() == []


# -- Intake on real pipes ------------------------------------------------------------------


class Pipes:
    """The three channels of a worker, with the write ends kept by the test."""

    def __init__(self, with_ipc: bool) -> None:
        self.stdout = os.pipe()
        self.stderr = os.pipe()
        self.ipc = os.pipe() if with_ipc else None

    async def open(self, intake: Intake) -> None:
        ipc_fd = self.ipc[0] if self.ipc else None
        await intake.open(stdout_fd=self.stdout[0], stderr_fd=self.stderr[0], ipc_fd=ipc_fd)

    def close_writers(self) -> None:
        for pair in (self.stdout, self.stderr, self.ipc):
            if pair is not None:
                with contextlib.suppress(OSError):
                    os.close(pair[1])


@pytest.fixture
def pipes_factory() -> Iterator[list[Pipes]]:
    made: list[Pipes] = []
    yield made
    for pipes in made:
        pipes.close_writers()


def events(n: int) -> list[Event]:
    return [log_event(seq, message=f"event {seq}") for seq in range(1, n + 1)]


async def run_intake(
    made: list[Pipes], mode: str, write: dict[str, bytes], limits: IntakeLimits | None = None
) -> tuple[Sink, Intake]:
    pipes = Pipes(with_ipc=mode != "stdout")
    made.append(pipes)
    sink = Sink()
    intake = Intake(sink, audit_id="t", mode=mode, limits=limits)
    await pipes.open(intake)
    for name, data in write.items():
        pair = {"ipc": pipes.ipc, "stdout": pipes.stdout, "stderr": pipes.stderr}[name]
        assert pair is not None
        await _write(pair[1], data)
    pipes.close_writers()
    assert await intake.wait_closed(within=10.0)
    intake.finish(count_unmatched=True)
    return sink, intake


async def _write(fd: int, data: bytes) -> None:
    # A byte at a time for small data: the decoders must accept any split of the stream.
    # The reader runs on this same loop, so a full pipe must yield to it, never block.
    os.set_blocking(fd, False)
    step = 1 if len(data) < 4096 else 65536
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view[:step]) :]
        except BlockingIOError:
            await asyncio.sleep(0.001)
        else:
            await asyncio.sleep(0)


N = 8


@pytest.mark.parametrize("k", range(N + 1))
async def test_pipe_closed_after_k_frames_then_a_stdout_resend_delivers_everything_once(
    pipes_factory: list[Pipes], k: int
) -> None:
    frames = b"".join(encode_frame(e) for e in events(N)[:k]) + HEADER.pack(2) + b"\xc1\xc1"
    lines = b"".join(encode_line(e) for e in events(N))
    sink, intake = await run_intake(pipes_factory, "pipe", {"ipc": frames, "stdout": lines})
    assert [e.seq for e in sink.events if not e.from_server] == list(range(1, N + 1))
    [fallback] = [e for e in sink.events if e.type == "ipc_fallback"]
    assert sink.events.index(fallback) == k
    assert intake.channel == "stdout"
    assert intake.sequencer.duplicates == k


@pytest.mark.parametrize("k", [0, 3, N])
async def test_a_server_event_on_the_pipe_breaks_it_after_the_events_before_it(
    pipes_factory: list[Pipes], k: int
) -> None:
    forged = new_event("audit_started", 0, pid=1)
    # Over 4 KiB in all, so `_write` sends it in one write: the intake closes the pipe at
    # the forged event, and a byte-at-a-time writer would then fail with EPIPE.
    worker = [log_event(seq, message="x" * 600) for seq in range(1, N + 1)]
    frames = b"".join(encode_frame(e) for e in [*worker[:k], forged, *worker[k:]])
    sink, intake = await run_intake(pipes_factory, "pipe", {"ipc": frames})
    assert [e.seq for e in sink.events if not e.from_server] == list(range(1, k + 1))
    [fallback] = [e for e in sink.events if e.from_server]
    assert fallback.type == "ipc_fallback" and "server event" in fallback["reason"]
    assert sink.events.index(fallback) == k
    assert intake.channel == "stdout"


async def test_validate_mode_on_identical_channels_has_no_mismatch(
    pipes_factory: list[Pipes],
) -> None:
    frames = b"".join(encode_frame(e) for e in events(N))
    lines = b"".join(encode_line(e) for e in events(N))
    sink, intake = await run_intake(pipes_factory, "validate", {"ipc": frames, "stdout": lines})
    assert [e.seq for e in sink.events] == list(range(1, N + 1))
    assert intake.sequencer.mismatches == 0
    assert intake.channel == "pipe"


async def test_large_binary_payload_crosses_the_pipe(pipes_factory: list[Pipes]) -> None:
    data = os.urandom(3 * 1024 * 1024)
    shot = new_event(
        "screenshot", 1, index=0, label="home", url="http://127.0.0.1/", mime="image/png", data=data
    )
    sink, _ = await run_intake(pipes_factory, "pipe", {"ipc": encode_frame(shot)})
    assert sink.events == [shot]


async def test_stderr_keeps_a_bounded_tail(pipes_factory: list[Pipes]) -> None:
    text = b"".join(b"line %d\n" % i for i in range(10)) + b"no newline"
    limits = IntakeLimits(stderr_tail_lines=3)
    _, intake = await run_intake(pipes_factory, "stdout", {"stderr": text}, limits)
    assert list(intake.stderr_tail) == ["line 8", "line 9", "no newline"]


async def test_nothing_reaches_the_sink_after_close(pipes_factory: list[Pipes]) -> None:
    pipes = Pipes(with_ipc=False)
    pipes_factory.append(pipes)
    sink = Sink()
    intake = Intake(sink, audit_id="t", mode="stdout")
    await pipes.open(intake)
    intake.close()
    os.write(pipes.stdout[1], encode_line(log_event(1)))
    pipes.close_writers()
    await intake.wait_closed(within=5.0)
    intake.finish(count_unmatched=False)
    assert sink.events == []
