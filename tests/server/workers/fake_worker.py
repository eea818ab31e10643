"""A stand-in auditor for the runner's tests: real protocol events, misbehaviour on request.

    python fake_worker.py [--behaviour NAME] [--after K] [--count N] [--pid-file F] URL \
        --tier T --verdict-mode M [--security-modules a,b] --ipc MODE [--ipc-fd N]

It writes like the real worker: msgpack frames on the ipc fd, `##VERITAS ` lines on stdout,
both in validate mode; when a pipe write fails it switches to stdout and re-sends every
event so far. Behaviours (applied after K events where that makes sense):

    normal        hello, each phase started and completed, a finding, the audit_result
    garbage       writes an undecodable frame, waits for the server to close the pipe, goes on
    oversize      sends an event bigger than the server's frame limit (set small by the test)
    server_event  sends an audit_complete of its own on the pipe (a server-only type)
    crash         writes a traceback to stderr and exits with status 3
    hang          stops after K events and sleeps (the test kills it)
    no_result     every event but the audit_result, then exit 0
    sleep         sleeps forever after hello (the time limit stops it)
    ignore_term   like sleep, with SIGTERM ignored
    switch        closes its own ipc fd after K events, so it falls back by itself
    foreign       non-protocol lines on stdout and progress on stderr between events
    flood         N log_entry events, then the result
    drip          N log_entry events, one every --interval seconds, then the result
    differ        validate mode with event K changed on stdout only
    orphan        leaves a child in a new session holding stdout and stderr open, then exits
    group_child   leaves a child in its own process group, then sleeps
    refuse        reports a phase_error and exits with protocol.exits.NO_RESULT, as the
                  worker does for a target it refuses
    env           reports its argv and VERITAS_* environment in a log_entry, then the result
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from protocol import exits
from protocol.events import PHASES, Event, new_event
from protocol.framing import encode_frame
from protocol.jsonlines import encode_line

GARBAGE = b"\x00\x00\x00\x04\xc1\xc1\xc1\xc1"  # a 4-byte body of the one byte msgpack never uses


class Emitter:
    """Where events go: the pipe, stdout, or both; falls back to stdout on a write error."""

    def __init__(self, mode: str, fd: int | None) -> None:
        self.mode = mode
        self.fd = fd if mode in ("pipe", "validate") else None
        self.history: list[Event] = []
        self.seq = 0

    def emit(
        self, type_: str, *, stdout_change: dict[str, Any] | None = None, **fields: Any
    ) -> Event:
        self.seq += 1
        event = new_event(type_, self.seq, **fields)
        self.history.append(event)
        if self.fd is not None:
            self._write_pipe(encode_frame(event))
        if self.fd is None or self.mode == "validate":
            twin = (
                event
                if stdout_change is None
                else new_event(type_, self.seq, ts=event.ts, **{**fields, **stdout_change})
            )
            write_stdout(encode_line(twin))
        return event

    def write_raw(self, data: bytes) -> None:
        if self.fd is not None:
            self._write_pipe(data)

    def _write_pipe(self, data: bytes) -> None:
        assert self.fd is not None
        try:
            _write_all(self.fd, data)
        except OSError as exc:
            self.fall_back(exc)

    def fall_back(self, exc: OSError) -> None:
        print(f"fake worker: pipe failed ({exc}), switching to stdout", file=sys.stderr, flush=True)
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.mode == "pipe":
            for event in self.history:
                write_stdout(encode_line(event))
        self.mode = "stdout"

    def wait_until_pipe_closed(self) -> None:
        """Block until the server has closed its end (POLLERR on our end), then fall back."""
        assert self.fd is not None
        poller = select.poll()
        poller.register(self.fd, select.POLLERR)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if poller.poll(100):
                self.fall_back(BrokenPipeError("the server closed the pipe"))
                return
        sys.exit("fake worker: the server never closed the pipe")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def audit_events(url: str, tier: str, mode: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "hello", {"pid": os.getpid(), "ipc": mode, "tier": tier, "url": url}
    for index, phase in enumerate(PHASES):
        pct = 100 * index / len(PHASES)
        yield "phase_start", {"phase": phase, "label": phase.title(), "message": "go", "pct": pct}
        if phase == "content":
            yield "finding", {"finding": FINDING}
        yield (
            "phase_complete",
            {
                "phase": phase,
                "label": phase.title(),
                "message": "done",
                "pct": pct,
                "summary": {"n": index},
            },
        )
    yield "audit_result", {"result": {"trust_score": 77, "risk_level": "low", "findings": []}}


FINDING = {
    "id": "f1",
    "category": "dark_pattern",
    "pattern_type": "countdown",
    "severity": "medium",
    "confidence": 0.8,
    "description": "A countdown timer",
    "plain_english": "The page pressures you",
    "evidence": "<span>00:59</span>",
    "url": "http://127.0.0.1/",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--behaviour", default="normal")
    parser.add_argument("--after", type=int, default=3)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--pid-file")
    parser.add_argument("--tier", default="quick_scan")
    parser.add_argument("--verdict-mode", default="simple")
    parser.add_argument("--security-modules")
    parser.add_argument("--ipc", default="stdout")
    parser.add_argument("--ipc-fd", type=int)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    fd = args.ipc_fd
    if fd is None and os.environ.get("VERITAS_IPC_FD"):
        fd = int(os.environ["VERITAS_IPC_FD"])
    emitter = Emitter(args.ipc, fd)
    print(f"fake worker {os.getpid()} starting: {args.behaviour}", file=sys.stderr, flush=True)
    return BEHAVIOURS[args.behaviour](emitter, args)


def events(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    return list(audit_events(args.url, args.tier, args.ipc))


def normal(emitter: Emitter, args: argparse.Namespace) -> int:
    for type_, fields in events(args):
        emitter.emit(type_, **fields)
    return 0


def garbage(emitter: Emitter, args: argparse.Namespace) -> int:
    for index, (type_, fields) in enumerate(events(args), 1):
        emitter.emit(type_, **fields)
        if index == args.after and emitter.fd is not None:
            emitter.write_raw(GARBAGE)
            emitter.wait_until_pipe_closed()
    return 0


def oversize(emitter: Emitter, args: argparse.Namespace) -> int:
    for index, (type_, fields) in enumerate(events(args), 1):
        emitter.emit(type_, **fields)
        if index == args.after:
            emitter.emit("log_entry", agent="scout", level="info", message="x" * 4096)
            if emitter.fd is not None:
                emitter.wait_until_pipe_closed()
    return 0


def server_event(emitter: Emitter, args: argparse.Namespace) -> int:
    for index, (type_, fields) in enumerate(events(args), 1):
        emitter.emit(type_, **fields)
        if index == args.after and emitter.fd is not None:
            emitter.write_raw(encode_frame(new_event("audit_complete", 0, elapsed=1.0)))
            emitter.wait_until_pipe_closed()
    return 0


def crash(emitter: Emitter, args: argparse.Namespace) -> int:
    for type_, fields in events(args)[: args.after]:
        emitter.emit(type_, **fields)
    print("Traceback (most recent call last):", file=sys.stderr)
    print("RuntimeError: the fake worker broke", file=sys.stderr, flush=True)
    os._exit(3)


def hang(emitter: Emitter, args: argparse.Namespace) -> int:
    for type_, fields in events(args)[: args.after]:
        emitter.emit(type_, **fields)
    return _sleep_forever()


def no_result(emitter: Emitter, args: argparse.Namespace) -> int:
    for type_, fields in events(args)[:-1]:
        emitter.emit(type_, **fields)
    return 0


def sleep(emitter: Emitter, args: argparse.Namespace) -> int:
    return hang(emitter, argparse.Namespace(**{**vars(args), "after": 1}))


def ignore_term(emitter: Emitter, args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return sleep(emitter, args)


def switch(emitter: Emitter, args: argparse.Namespace) -> int:
    for index, (type_, fields) in enumerate(events(args), 1):
        emitter.emit(type_, **fields)
        if index == args.after and emitter.fd is not None:
            os.close(emitter.fd)  # the next write fails with EBADF, as with a bad --ipc-fd
    return 0


def foreign(emitter: Emitter, args: argparse.Namespace) -> int:
    for type_, fields in events(args):
        write_stdout(b"print() output that is not an event\n")
        print(f"progress: {type_}", file=sys.stderr, flush=True)
        emitter.emit(type_, **fields)
    write_stdout(b"##VERITAS {not json}\n")
    return 0


def flood(emitter: Emitter, args: argparse.Namespace) -> int:
    hello, *_ = events(args)
    emitter.emit(hello[0], **hello[1])
    for index in range(args.count):
        emitter.emit("log_entry", agent="flood", level="debug", message=f"event {index}")
    emitter.emit("audit_result", result={"trust_score": 50, "risk_level": "medium", "findings": []})
    return 0


def drip(emitter: Emitter, args: argparse.Namespace) -> int:
    hello, *_ = events(args)
    emitter.emit(hello[0], **hello[1])
    for index in range(args.count):
        time.sleep(args.interval)
        emitter.emit("log_entry", agent="drip", level="info", message=f"event {index}")
    emitter.emit("audit_result", result={"trust_score": 50, "risk_level": "medium", "findings": []})
    return 0


def differ(emitter: Emitter, args: argparse.Namespace) -> int:
    for index, (type_, fields) in enumerate(events(args), 1):
        change = {"message": "not what the pipe said"} if index == args.after else None
        if change is not None and "message" not in fields:
            raise SystemExit(f"event {index} ({type_}) has no message to change")
        emitter.emit(type_, stdout_change=change, **fields)
    return 0


def orphan(emitter: Emitter, args: argparse.Namespace) -> int:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    _write_pid(args, child.pid)
    return normal(emitter, args)


def group_child(emitter: Emitter, args: argparse.Namespace) -> int:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _write_pid(args, child.pid)
    return sleep(emitter, args)


def refuse(emitter: Emitter, args: argparse.Namespace) -> int:
    hello, start, *_ = events(args)
    emitter.emit(hello[0], **hello[1])
    emitter.emit(start[0], **start[1])
    reason = "refused to audit 10.0.0.1: it is a private address"
    emitter.emit("phase_error", phase="init", label="Init", message=reason, pct=0, error=reason)
    return exits.NO_RESULT


def env(emitter: Emitter, args: argparse.Namespace) -> int:
    seen = {k: v for k, v in os.environ.items() if k.startswith("VERITAS_")}
    hello, *_, result = events(args)
    emitter.emit(hello[0], **hello[1])
    report = json.dumps({"argv": sys.argv[1:], "env": seen})
    emitter.emit("log_entry", agent="env", level="info", message=report)
    emitter.emit(result[0], **result[1])
    return 0


def _write_pid(args: argparse.Namespace, pid: int) -> None:
    if args.pid_file:
        with open(args.pid_file, "w") as file:
            file.write(str(pid))


def _sleep_forever() -> int:
    while True:
        time.sleep(60)


BEHAVIOURS = {
    "normal": normal,
    "garbage": garbage,
    "oversize": oversize,
    "server_event": server_event,
    "crash": crash,
    "hang": hang,
    "no_result": no_result,
    "sleep": sleep,
    "ignore_term": ignore_term,
    "switch": switch,
    "foreign": foreign,
    "flood": flood,
    "drip": drip,
    "differ": differ,
    "orphan": orphan,
    "group_child": group_child,
    "env": env,
    "refuse": refuse,
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
