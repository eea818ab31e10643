"""The browser slot budget: at most `VERITAS_MAX_BROWSERS` browsers at once on this machine.

Auditors are separate processes, so the budget is a set of lock files, one per slot: a
deep audit holds an exclusive `flock` on one of them while its browser runs. The kernel
drops the lock when the process ends however it ends, so a killed audit never leaks a
slot. Only deep audits take a slot; the other tiers never look at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from veritas.browser.errors import BrowserUnavailable

POLL: Final = 0.2  # seconds between two attempts while every slot is taken


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _take_any(folder: Path, count: int) -> int | None:
    for index in range(count):
        fd = _try_lock(folder / f"slot-{index}.lock")
        if fd is not None:
            return fd
    return None


@contextlib.asynccontextmanager
async def browser_slot(folder: Path, count: int, wait: float) -> AsyncIterator[float]:
    """Hold one of `count` slots; yields the seconds spent waiting for it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    started = time.monotonic()
    while (fd := _take_any(folder, count)) is None:
        if time.monotonic() - started >= wait:
            raise BrowserUnavailable(
                f"no browser slot came free within {wait:g} s ({count} browsers at most)"
            )
        await asyncio.sleep(POLL)
    try:
        yield time.monotonic() - started
    finally:
        os.close(fd)  # closing the descriptor releases the lock
