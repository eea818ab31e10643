"""The cluster's report: each instance says how busy it is, and reads what all the others said.

Every `interval` seconds an instance writes its own line in the `instances` hash (audits
running, worker slots, leases held, when), adds the audits it found fenced since its last
report to the cluster-wide `stats` counters, and reads back the whole picture: the shared
queue's depth, every instance's line, the counters. Lines older than `stale_after` are
dropped (their instance stopped or died). The picture is handed to `on_view` (the
metrics), so a scrape of any instance shows the cluster without waiting for Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from server.operations.metrics import ClusterView, InstanceReport
from server.stores.redis import Client, RedisStore

logger: Final = logging.getLogger("server.cluster.report")


class Reporter:
    """`start()`, `close()`; `report()` once, as each interval does."""

    def __init__(
        self,
        store: RedisStore,
        busy: Callable[[], tuple[int, int]],
        on_view: Callable[[ClusterView], None],
        interval: float,
    ) -> None:
        self.store = store
        self.busy = busy  # (audits running, worker slots) of this instance
        self.on_view = on_view
        self.interval = interval
        self.stale_after = interval * 3
        self._fenced_reported = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self._pass()
        self._task = asyncio.create_task(self._run(), name="veritas-cluster-report")

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        with contextlib.suppress(Exception):  # a stopped instance's line goes at once
            await self.store.call(lambda c: c.hdel(self.store.keys.instances, self.store.instance))

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._stop.wait()
            if not self._stop.is_set():
                await self._pass()

    async def _pass(self) -> None:
        try:
            self.on_view(await self.report())
        except Exception:
            logger.exception("the cluster report failed")  # the next interval tries again

    async def report(self) -> ClusterView:
        running, slots = self.busy()
        line: dict[str, Any] = {"running": running, "slots": slots}
        line["leases"] = len(self.store.owned())
        fenced = self.store.fenced_count - self._fenced_reported
        line["at"] = time.time()
        raw = await self.store.call(lambda c: self._exchange(c, line, fenced))
        self._fenced_reported += fenced
        return await self._view(*raw)

    async def _exchange(self, client: Client, line: dict[str, Any], fenced: int) -> list[Any]:
        keys = self.store.keys
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.instances, self.store.instance, json.dumps(line))
            if fenced:
                pipe.hincrby(keys.stats, "fenced", fenced)
            pipe.zcard(keys.queued)
            pipe.hgetall(keys.instances)
            pipe.hgetall(keys.stats)
            return list(await pipe.execute())[-3:]

    async def _view(self, depth: int, lines: dict[str, str], counts: dict[str, str]) -> ClusterView:
        now = time.time()
        instances: dict[str, InstanceReport] = {}
        stale = []
        for instance, text in lines.items():
            line = json.loads(text)
            if now - float(line["at"]) > self.stale_after:
                stale.append(instance)
                continue
            instances[instance] = InstanceReport(line["running"], line["slots"], line["leases"])
        if stale:
            await self.store.call(lambda c: c.hdel(self.store.keys.instances, *stale))
        return ClusterView(depth, instances, {name: int(n) for name, n in counts.items()})
