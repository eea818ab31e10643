"""Drive a real `python -m veritas` process and read every channel it writes, as the server does."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.events import Event
from protocol.framing import FrameDecoder
from protocol.jsonlines import ForeignLine, LineDecoder

READ_SIZE = 64 * 1024


@dataclass
class Run:
    returncode: int
    pipe: list[Event] = field(default_factory=list)
    stdout: list[Event] = field(default_factory=list)
    foreign: list[bytes] = field(default_factory=list)  # stdout lines that are not events
    stderr: str = ""

    def merged(self) -> list[Event]:
        """Both channels, duplicates dropped by seq, in seq order: what a reader keeps."""
        by_seq: dict[int, Event] = {}
        for event in [*self.pipe, *self.stdout]:
            by_seq.setdefault(event.seq, event)
        return [by_seq[s] for s in sorted(by_seq)]

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.merged() if e.type == type_]

    @property
    def result(self) -> dict[str, Any]:
        (event,) = self.of_type("audit_result")
        return dict(event["result"])


def worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    env["VERITAS_ALLOW_PRIVATE_TARGETS"] = "1"
    env.update(extra or {})
    return env


Hook = Callable[["Reader"], None]


class Reader:
    """Reads the pipe, stdout and stderr of one worker until all three reach end of stream."""

    def __init__(self, proc: subprocess.Popen[bytes], pipe_fd: int | None) -> None:
        self.proc = proc
        self.pipe_fd = pipe_fd
        self.frames = FrameDecoder()
        self.lines = LineDecoder()
        self.run = Run(returncode=-1)
        self.stderr = bytearray()
        self.selector = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        self.selector.register(proc.stdout.fileno(), selectors.EVENT_READ, "stdout")
        self.selector.register(proc.stderr.fileno(), selectors.EVENT_READ, "stderr")
        if pipe_fd is not None:
            self.selector.register(pipe_fd, selectors.EVENT_READ, "pipe")

    def close_pipe(self) -> None:
        if self.pipe_fd is not None:
            self.selector.unregister(self.pipe_fd)
            os.close(self.pipe_fd)
            self.pipe_fd = None

    def read_all(self, hook: Hook | None, deadline: float) -> Run:
        while self.selector.get_map():
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not finish in time")
            for key, _ in self.selector.select(timeout=0.5):
                self._read(key.fd, key.data)
                if hook is not None:
                    hook(self)
        self.run.returncode = self.proc.wait(timeout=30)
        self.run.stderr = self.stderr.decode("utf-8", "replace")
        return self.run

    def _read(self, fd: int, name: str) -> None:
        data = os.read(fd, READ_SIZE)
        if not data:
            if name == "pipe":
                self.close_pipe()
            else:
                self.selector.unregister(fd)
            return
        if name == "stderr":
            self.stderr += data
        elif name == "pipe":
            self.frames.feed(data)
            self.run.pipe.extend(self.frames)
        else:
            self.lines.feed(data)
            for item in self.lines:
                if isinstance(item, ForeignLine):
                    self.run.foreign.append(item.text)
                else:
                    self.run.stdout.append(item)


def start(
    args: Sequence[str], env: Mapping[str, str] | None = None, pass_fds: Sequence[int] = ()
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "veritas", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_env(env),
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    )


def run_worker(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    mode: str | None = None,
    hook: Hook | None = None,
    timeout: float = 60.0,
) -> Run:
    """Run the worker to its end in `mode` (None: by hand), reading every channel."""
    read_fd = write_fd = None
    extra: list[str] = []
    if mode in ("pipe", "validate"):
        read_fd, write_fd = os.pipe()
        extra = ["--ipc", mode, "--ipc-fd", str(write_fd)]
    elif mode == "stdout":
        extra = ["--ipc", "stdout"]
    proc = start([*args, *extra], env, pass_fds=[write_fd] if write_fd is not None else [])
    if write_fd is not None:
        os.close(write_fd)
    try:
        return Reader(proc, read_fd).read_all(hook, time.monotonic() + timeout)
    finally:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
