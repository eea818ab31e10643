"""The application: `create_app(config)` wires state, routes, middlewares and cleanup contexts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.api.auth import auth_middleware
from server.api.cors import cors_headers, cors_middleware
from server.api.routes import add_routes
from server.api.state import CONFIG, METRICS, SCHEDULER, SCREENSHOTS, STORE, SUBSCRIBERS
from server.config import ServerConfig
from server.errors import ApiError
from server.operations.metrics import CONTENT_TYPE, MeteredStore, Metrics, MetricsHooks
from server.operations.recovery import recover_interrupted
from server.operations.retention import retention_task
from server.stores.memory import MemoryStore
from server.stores.screenshots import ScreenshotStore
from server.stores.sqlite import SQLiteStore
from server.stores.store import Store
from server.streaming.scheduler import AuditHooks, Scheduler
from server.streaming.sse import Subscribers

logger: Final = logging.getLogger("server.api.app")
STATIC_DIR: Final = Path(__file__).parent / "static"
# The page loads nothing from elsewhere; screenshots arrive inline as data: URLs.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'",
    "Cache-Control": "no-cache",
}

HTTP_CODES: Final = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
}


def create_app(
    config: ServerConfig, *, store: Store | None = None, hooks: AuditHooks | None = None
) -> web.Application:
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares(config))
    metrics = Metrics()
    app[CONFIG] = config
    app[METRICS] = metrics
    app[SCREENSHOTS] = ScreenshotStore()
    app[SUBSCRIBERS] = Subscribers(on_delivered=metrics.delivered)
    inner = store if store is not None else make_store(config, metrics)
    app[STORE] = MeteredStore(inner, metrics)
    watch_gauges(app, inner)
    if config.cors is not None:
        app.on_response_prepare.append(cors_headers(config.cors))
    app.cleanup_ctx.append(store_context)
    if isinstance(inner, SQLiteStore):
        app.cleanup_ctx.append(retention_context(inner))
    app.cleanup_ctx.append(scheduler_context(hooks or MetricsHooks(metrics)))
    # Before connections are drained: ending every audit ends every event stream.
    app.on_shutdown.append(close_scheduler)
    add_routes(app)
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
    app.router.add_static("/static/", STATIC_DIR)


def make_store(config: ServerConfig, metrics: Metrics) -> Store:
    """The one place that picks the store: SQLite in the data directory, if there is one."""
    if config.data_dir is None:
        return MemoryStore()
    path = config.data_dir / "veritas.sqlite3"
    return SQLiteStore(path, config.store, on_batch=metrics.store_batch)


def middlewares(config: ServerConfig) -> list[Middleware]:
    """Every middleware, outermost first: preflights are answered before the token check."""
    chain: list[Middleware] = [json_errors]
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
    await recover_interrupted(store)
    yield
    await store.close()


def retention_context(store: SQLiteStore) -> Callable[[web.Application], AsyncIterator[None]]:
    def context(app: web.Application) -> AsyncIterator[None]:
        return retention_task(store, app[CONFIG].retention, app[METRICS].pruned.inc)

    return context


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
