"""The application: `create_app(config)` wires state, routes, middlewares and cleanup contexts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.config import ServerConfig
from server.errors import ApiError
from server.routes import add_routes
from server.scheduler import AuditHooks, Scheduler
from server.sse import Subscribers
from server.state import CONFIG, SCHEDULER, STORE, SUBSCRIBERS
from server.store import MemoryStore, Store

logger: Final = logging.getLogger("server.app")
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
    app[CONFIG] = config
    app[SUBSCRIBERS] = Subscribers()
    app[STORE] = store if store is not None else make_store(config)
    app.cleanup_ctx.append(store_context)
    app.cleanup_ctx.append(scheduler_context(hooks))
    # Before connections are drained: ending every audit ends every event stream.
    app.on_shutdown.append(close_scheduler)
    add_routes(app)
    add_page_routes(app)
    return app


def add_page_routes(app: web.Application) -> None:
    """The live audit page: `/` and its files under `/static/`."""

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR)


def make_store(config: ServerConfig) -> Store:
    """The one place that picks the store."""
    return MemoryStore()


def middlewares(config: ServerConfig) -> list[Middleware]:
    """Every middleware, outermost first (auth and CORS go here)."""
    return [json_errors]


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
    yield
    await store.close()


def scheduler_context(
    hooks: AuditHooks | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        scheduler = Scheduler(app[CONFIG], app[STORE], hooks=hooks)
        app[SCHEDULER] = scheduler
        yield
        await scheduler.close()

    return context


async def close_scheduler(app: web.Application) -> None:
    await app[SCHEDULER].close()
