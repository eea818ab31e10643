"""Retention: the store keeps at most so many finished audits, none older than a limit.

Pruning runs at start-up and then every `interval` seconds, in a task owned by the
application's cleanup context (the cluster's, for a shared store: every instance prunes,
and concurrent prunings delete each audit once). It deletes finished audits only, oldest
first; audits queued or running are never touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Final, Protocol

logger: Final = logging.getLogger("server.operations.retention")
OnPruned = Callable[[list[str]], None]  # told the ids of the audits just deleted


class Prunable(Protocol):
    """A store that deletes its oldest finished audits: SQLite, or Redis for all instances."""

    async def prune(self, *, max_audits: int | None, max_age_seconds: float | None) -> list[str]:
        """The ids deleted, oldest first."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    max_audits: int | None = 10_000  # None: no limit by count
    max_age_seconds: float | None = 30 * 86400.0  # None: no limit by age
    interval: float = 3600.0  # seconds between two prunings

    @property
    def limited(self) -> bool:
        return self.max_audits is not None or self.max_age_seconds is not None


async def prune_once(
    store: Prunable,
    policy: RetentionPolicy,
    on_pruned: OnPruned | None = None,
) -> list[str]:
    deleted = await store.prune(
        max_audits=policy.max_audits, max_age_seconds=policy.max_age_seconds
    )
    if deleted:
        logger.info("retention deleted %d finished audits", len(deleted))
        if on_pruned is not None:
            on_pruned(deleted)
    return deleted


async def prune_forever(
    store: Prunable,
    policy: RetentionPolicy,
    on_pruned: OnPruned | None = None,
) -> None:
    while True:
        await asyncio.sleep(policy.interval)
        try:
            await prune_once(store, policy, on_pruned)
        except Exception:
            # A failed pruning is retried at the next interval; the service goes on.
            logger.exception("retention failed")


async def retention_task(
    store: Prunable,
    policy: RetentionPolicy,
    on_pruned: OnPruned | None = None,
) -> AsyncGenerator[None, None]:
    """For a cleanup context: prune now, then periodically until the application stops."""
    if not policy.limited:
        yield
        return
    await prune_once(store, policy, on_pruned)
    task = asyncio.create_task(prune_forever(store, policy, on_pruned), name="veritas-retention")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
