"""This instance's part in the cluster: its followers and its leases, for `app.cleanup_ctx`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from server.cluster import FOLLOWERS
from server.cluster.followers import Followers
from server.cluster.leases import Leases, LeaseSettings
from server.config import ServerConfig
from server.stores.redis import RedisStore
from server.stores.store import Store


def cluster_context(
    store: Store, config: ServerConfig, stop_audit: Callable[[web.Application, str], None]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """After the store's context (the store is open while this runs): followers serve
    audits run elsewhere; leases keep this instance's audits and reap silent ones'.
    `stop_audit` stops a local audit another instance has taken over."""
    if not isinstance(store, RedisStore):
        raise TypeError("a cluster needs the shared (Redis) store")

    async def context(app: web.Application) -> AsyncIterator[None]:
        store.on_fenced = lambda audit_id: stop_audit(app, audit_id)
        followers = Followers(store, config.log_limits)
        leases = Leases(store, LeaseSettings(lease_ms=store.settings.lease_ms))
        app[FOLLOWERS] = followers
        await followers.start()
        await leases.start()
        yield
        await leases.close()
        await followers.close()

    return context
