"""A bench child run the way the server runs a worker: its channels made, read by `Intake`.

    child = await spawn("bench.emitter", args, ipc=True)   # --ipc-fd N is added for it
    await read_all(child, intake, limit=120.0)               # intake opened, closed, finished

The ipc pipe is grown to the server's pipe size, as the runner grows it; stdout and stderr
keep the system's default, as the server's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from server.streaming.intake import Intake
from server.streaming.runner import DEFAULT_PIPE_SIZE

ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Child:
    process: asyncio.subprocess.Process
    stdout: int  # read ends, for the intake
    stderr: int
    ipc: int | None


def grown_pipe(size: int = DEFAULT_PIPE_SIZE) -> tuple[int, int]:
    """(read end, write end), grown to `size` where the kernel allows it."""
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: the default
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, size)
    return read_end, write_end


async def spawn(module: str, args: list[str], *, ipc: bool) -> Child:
    """`python -m module args...` from the project root, with an ipc pipe when `ipc`."""
    pipe = grown_pipe() if ipc else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    extra = ["--ipc-fd", str(pipe[1])] if pipe else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, *extra,
        stdin=asyncio.subprocess.DEVNULL, stdout=out_w, stderr=err_w,
        pass_fds=(pipe[1],) if pipe else (), cwd=ROOT,
    )  # fmt: skip
    for fd in (out_w, err_w, *(pipe[1:] if pipe else ())):
        os.close(fd)
    return Child(process, out_r, err_r, pipe[0] if pipe else None)


async def read_all(child: Child, intake: Intake, *, limit: float) -> None:
    """Read the child's channels into `intake` until it exits (killed past `limit` s)."""
    process = child.process
    await intake.open(stdout_fd=child.stdout, stderr_fd=child.stderr, ipc_fd=child.ipc)
    try:
        await asyncio.wait_for(process.wait(), limit)
        await intake.wait_closed(within=5.0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        intake.finish(count_unmatched=False)
