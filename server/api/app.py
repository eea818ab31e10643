"""The application: `create_app(config)` wires state, routes, middlewares and cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.api.auth import auth_middleware
from server.api.connections import Connections, request_state
from server.api.cors import cors_headers, cors_middleware
from server.api.documents import add_document_routes
from server.api.routes import add_routes
from server.api.security import add_security_headers
from server.api.state import (
    CONFIG,
    CONNECTIONS,
    METRICS,
    SCHEDULER,
    SCREENSHOTS,
    STORE,
    SUBSCRIBERS,
)
from server.api.validation import shown
from server.config import ServerConfig
from server.errors import HTTP_CODES, ApiError
from server.operations.metrics import CONTENT_TYPE, MeteredStore, Metrics, MetricsHooks
from server.operations.recovery import recover_interrupted
from server.operations.retention import retention_task
from server.stores.errors import StoreError
from server.stores.memory import MemoryStore
from server.stores.screenshots import ScreenshotStore
from server.stores.sqlite import SQLiteStore
from server.stores.store import Store
from server.streaming.scheduler import AuditHooks, Scheduler
from server.streaming.sse import Subscribers

logger: Final = logging.getLogger("server.api.app")
STATIC_DIR: Final = Path(__file__).parent / "static"
# The page loads nothing from elsewhere (its policy: server/api/security.py).
PAGE_HEADERS: Final = {"Cache-Control": "no-cache"}

STATIC_FILES: Final = frozenset(path.name for path in STATIC_DIR.iterdir() if path.is_file())


def create_app(
    config: ServerConfig, *, store: Store | None = None, hooks: AuditHooks | None = None
) -> web.Application:
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares(config))
    metrics = Metrics()
    app[CONFIG] = config
    app[METRICS] = metrics
    app[CONNECTIONS] = Connections(config.connections)
    shots = None if config.data_dir is None else config.data_dir / "screenshots"
    app[SCREENSHOTS] = ScreenshotStore(directory=shots)
    app[SUBSCRIBERS] = Subscribers(on_delivered=metrics.delivered)
    inner = store if store is not None else make_store(config, metrics)
    app[STORE] = MeteredStore(inner, metrics)
    watch_gauges(app, inner)
    if config.cors is not None:
        app.on_response_prepare.append(cors_headers(config.cors))
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(store_context)
    app.cleanup_ctx.append(ping_clock_context)
    if isinstance(inner, SQLiteStore):
        app.cleanup_ctx.append(retention_context(inner))
    app.cleanup_ctx.append(scheduler_context(hooks or MetricsHooks(metrics)))
    if config.store_url is not None:  # imports redis: only for a shared store
        from server.cluster.node import cluster_context

        app.cleanup_ctx.append(cluster_context(inner, config))
    # Before connections are drained: ending every audit ends every event stream.
    app.on_shutdown.append(close_scheduler)
    add_routes(app)
    add_document_routes(app)
    add_page_routes(app)
    app.router.add_get("/metrics", metrics_page)
    return app


async def metrics_page(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def watch_gauges(app: web.Application, store: Store) -> None:
    """Gauges read from their owners at scrape time."""

    def scheduler_count(attribute: str) -> float:
        scheduler = app.get(SCHEDULER)
        return 0.0 if scheduler is None else float(getattr(scheduler, attribute))

    app[METRICS].watch(
        queue_depth=lambda: scheduler_count("queued"),
        workers=lambda: scheduler_count("running"),
        subscribers=lambda: app[SUBSCRIBERS].active,
        store_dropped=lambda: getattr(store, "dropped_events", 0),
    )


def add_page_routes(app: web.Application) -> None:
    """The live audit page: `/` and its files under `/static/`."""

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static_file)


async def static_file(request: web.Request) -> web.FileResponse:
    """One of the page's files; aiohttp's static handler answers a miss with an empty body."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise ApiError(404, "not_found", f"no file {shown(name)} under /static/")
    return web.FileResponse(STATIC_DIR / name)


def make_store(config: ServerConfig, metrics: Metrics) -> Store:
    """The one place that picks the store: Redis when `--store` names one (imported only
    then), else SQLite in the data directory, if there is one."""
    if config.store_url is not None:
        from server.stores.redis import RedisStore, redis_settings

        return RedisStore(config.store_url, redis_settings(config), on_batch=metrics.store_batch)
    if config.data_dir is None:
        return MemoryStore()
    path = config.data_dir / "veritas.sqlite3"
    return SQLiteStore(path, config.store, on_batch=metrics.store_batch)


def middlewares(config: ServerConfig) -> list[Middleware]:
    """Every middleware, outermost first: preflights are answered before the token check."""
    chain: list[Middleware] = [request_state, json_errors]
    if config.cors is not None:
        chain.append(cors_middleware(config.cors))
    if config.api_token is not None:
        chain.append(auth_middleware(config.api_token))
    return chain


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error a client sees has the JSON shape `{"error": {code, message, field}}`."""
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response(_http_error(exc).body(), status=exc.status, headers=_kept(exc))
    except StoreError as exc:
        # The store could not answer now (a failed writer, Redis restarting): retry later.
        logger.warning("store error on %s %s: %s", request.method, request.path, exc)
        retry = {"Retry-After": str(request.app[CONFIG].retry_after)}
        error = ApiError(503, "store_unavailable", f"the event store cannot answer: {exc}")
        return web.json_response(error.body(), status=503, headers=retry)
    except Exception:
        logger.exception("unexpected error on %s %s", request.method, request.path)
        error = ApiError(500, "internal", "internal server error")
        return web.json_response(error.body(), status=500)


def _http_error(exc: web.HTTPException) -> ApiError:
    code = HTTP_CODES.get(exc.status, "http_error")
    return ApiError(exc.status, code, exc.reason)


def _kept(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}


async def store_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if config.data_dir is not None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    store = app[STORE]
    await store.open()
    if not app[CONFIG].store_url:  # a shared store's unfinished audits may be running elsewhere
        await recover_interrupted(store)
    yield
    await store.close()


def retention_context(store: SQLiteStore) -> Callable[[web.Application], AsyncIterator[None]]:
    def context(app: web.Application) -> AsyncIterator[None]:
        def pruned(audit_ids: list[str]) -> None:
            app[METRICS].pruned.inc(len(audit_ids))
            app[SCREENSHOTS].forget(audit_ids)

        return retention_task(store, app[CONFIG].retention, pruned)

    return context


async def ping_clock_context(app: web.Application) -> AsyncIterator[None]:
    """The event streams' shared ping clock, for the life of the app."""
    clock = asyncio.create_task(
        app[SUBSCRIBERS].run_clock(app[CONFIG].sse.ping_interval), name="ping clock"
    )
    yield
    clock.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await clock


def scheduler_context(
    hooks: AuditHooks | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        scheduler = Scheduler(app[CONFIG], app[STORE], hooks=hooks, screenshots=app[SCREENSHOTS])
        app[SCHEDULER] = scheduler
        yield
        await scheduler.close()

    return context


async def close_scheduler(app: web.Application) -> None:
    await app[SCHEDULER].close()
