"""This instance's part in the cluster, for `app.cleanup_ctx` after the scheduler's context:
followers serve audits run elsewhere, leases keep this instance's audits and reap silent
ones', the work queue hands new audits to whichever instance has a free slot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from server.api.state import METRICS, SCHEDULER, SCREENSHOTS
from server.cluster import CANCELLER, FOLLOWERS
from server.cluster.cancel import Canceller
from server.cluster.followers import Followers
from server.cluster.leases import Leases, LeaseSettings
from server.cluster.queue import WorkQueue
from server.cluster.report import Reporter
from server.config import ServerConfig
from server.operations.retention import retention_task
from server.stores.redis import RedisStore
from server.stores.store import Store


def cluster_context(
    store: Store, config: ServerConfig
) -> Callable[[web.Application], AsyncIterator[None]]:
    if not isinstance(store, RedisStore):
        raise TypeError("a cluster needs the shared (Redis) store")

    async def context(app: web.Application) -> AsyncIterator[None]:
        scheduler = app[SCHEDULER]
        store.on_fenced = lambda audit_id: stop_audit(app, audit_id)
        followers = Followers(store, config.log_limits)
        lease = LeaseSettings(store.settings.lease_ms, config.on_lost, config.max_requeues)
        leases = Leases(store, lease)
        queue = WorkQueue(store, config, lambda: app.get(SCHEDULER))
        wait = config.kill_grace + config.shutdown_timeout
        canceller = Canceller(store, followers, lambda: app.get(SCHEDULER), wait)
        app[FOLLOWERS] = followers
        app[CANCELLER] = canceller
        async with contextlib.AsyncExitStack() as started:  # what started is closed, last first
            await followers.start()
            started.push_async_callback(followers.close)
            await leases.start()
            started.push_async_callback(leases.close)
            await queue.start()
            started.push_async_callback(queue.close)
            await canceller.start()
            started.push_async_callback(canceller.close)
            view = app[METRICS].cluster.update
            reporter = Reporter(store, lambda: busy(app, config), view, lease.interval)
            await reporter.start()
            started.push_async_callback(reporter.close)
            await started.enter_async_context(retention(app, store, config))
            scheduler.share = queue
            yield
            scheduler.share = None

    return context


def stop_audit(app: web.Application, audit_id: str) -> None:
    """Stop a local audit's worker (another instance has taken the audit over); once it has
    ended, requests read the audit from the store."""
    scheduler = app.get(SCHEDULER)
    audit = None if scheduler is None else scheduler.get(audit_id)
    if scheduler is None or audit is None:
        return
    audit.stop()
    if audit.task is None or audit.task.done():
        scheduler.forget(audit_id)
    else:
        audit.task.add_done_callback(lambda _: scheduler.forget(audit_id))


def busy(app: web.Application, config: ServerConfig) -> tuple[int, int]:
    """(audits running here, worker slots here), for the cluster's report."""
    scheduler = app.get(SCHEDULER)
    return (0 if scheduler is None else scheduler.running), config.max_workers


@contextlib.asynccontextmanager
async def retention(
    app: web.Application, store: RedisStore, config: ServerConfig
) -> AsyncIterator[None]:
    """Every instance prunes the shared store as the embedded one is pruned."""

    def pruned(audit_ids: list[str]) -> None:
        app[METRICS].pruned.inc(len(audit_ids))
        app[SCREENSHOTS].forget(audit_ids)  # those this instance kept
        scheduler = app.get(SCHEDULER)
        if scheduler is not None:
            for audit_id in audit_ids:
                scheduler.forget(audit_id)  # its recent finished logs, kept in memory

    task = retention_task(store, config.retention, pruned)
    await anext(task)
    try:
        yield
    finally:
        await task.aclose()  # stops its pruning task
