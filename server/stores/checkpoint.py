"""Copying the WAL into the database file off the writer's path.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them into the
database file, so the WAL can start over. SQLite's automatic checkpoint runs inside the
commit that passes its size, and that commit's events wait for it. With
`synchronous=NORMAL` commits do not flush the WAL, so that checkpoint flushes all of it,
and every few megabytes a client waits several milliseconds for an event. (With `FULL`
the commits have flushed it already and the writer keeps its own checkpoints: see
`CHECKPOINT_BYTES` in server/stores/sqlite.py.)

With `NORMAL` the store's `Checkpointer` runs passive checkpoints on a connection and a
thread of its own. A passive checkpoint never blocks the writer: SQLite lets it append
to the WAL while the pages already there are copied. After every commit a checkpoint
starts, one at a time and at least `interval` seconds after the one before. The
writer's automatic checkpoint stays on at a larger size (`BACKSTOP_BYTES`), so the WAL
stays bounded if this one falls behind or fails. A failed checkpoint is logged and the
next one tries again: the pages are safe in the WAL meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from server.stores.errors import StoreError

logger = logging.getLogger("server.stores.store")


class Checkpointer:
    """`await open()`, `committed()` after each commit, `await close()` before the writer's
    connection closes."""

    def __init__(
        self, path: Path, *, interval: float, synchronous: str, busy_timeout: float
    ) -> None:
        self.path = path
        self.interval = interval
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.checkpoints = 0  # completed, whether or not they copied anything
        self.failures = 0
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # a checkpoint waiting for `interval`
        self._dirty = False  # a commit came after the start of the latest checkpoint
        self._last = -math.inf  # monotonic start of the latest checkpoint
        self._closing = False

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veritas-checkpoint")
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    def committed(self) -> None:
        """A commit went into the WAL: a checkpoint starts after it, within `interval`."""
        self._dirty = True
        self._schedule()

    async def close(self) -> None:
        """Wait for a running checkpoint, then release the connection and the thread."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._executor is None:
            return
        if self._running is not None:
            await asyncio.wait([self._running])
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._disconnect)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _schedule(self) -> None:
        if self._closing or self._running is not None or self._timer is not None:
            return  # a running checkpoint schedules the next when it ends
        loop = asyncio.get_running_loop()
        delay = self._last + self.interval - time.monotonic()
        if delay > 0:
            self._timer = loop.call_later(delay, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self._timer = None
        if self._closing or self._executor is None:
            return
        self._dirty = False
        self._last = time.monotonic()
        loop = asyncio.get_running_loop()
        self._running = loop.run_in_executor(self._executor, self._checkpoint)
        self._running.add_done_callback(self._finished)

    # -- on the checkpointer's thread

    def _connect(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            # The checkpoint flushes the WAL and the file as the store's policy says.
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path} to checkpoint it: {exc}") from exc
        self._connection = db

    def _checkpoint(self) -> None:
        if self._connection is not None:
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- back on the loop

    def _finished(self, done: asyncio.Future[None]) -> None:
        self._running = None
        exc = None if done.cancelled() else done.exception()
        if exc is None:
            self.checkpoints += 1
        else:
            self.failures += 1
            logger.warning("a checkpoint of %s failed (the next one retries): %s", self.path, exc)
        if self._dirty:
            self._schedule()  # commits came meanwhile: their pages are not all copied yet
