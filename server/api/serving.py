"""Serving: the application on a listening socket whose connections are counted and timed.

`web.run_app` would build its own connection handlers; this is the same life cycle
(start-up, serve until SIGINT/SIGTERM, graceful shutdown) with `GuardedHandler`s.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from server.api.connections import ConnectionLimits, Connections, GuardedHandler
from server.config import ServerConfig

logger: Final = logging.getLogger("server.api.serving")


class GuardedSite(web.BaseSite):
    """A TCP site whose protocol factory makes `GuardedHandler`s."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        connections: Connections,
        *,
        backlog: int,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self.connections = connections

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        if not isinstance(self._server, asyncio.Server) or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._make_handler, self._host, self._port, backlog=self._backlog, reuse_address=True
        )

    def _make_handler(self) -> GuardedHandler:
        server = self._runner.server
        assert server is not None
        return GuardedHandler(self.connections, server, **handler_options(self.connections))


def handler_options(connections: Connections) -> dict[str, Any]:
    return {
        "loop": asyncio.get_running_loop(),
        "keepalive_timeout": connections.limits.idle_timeout,
        # An unread body is not drained: the connection closes after the response instead.
        "lingering_time": 0,
    }


def connection_limits(config: ServerConfig, max_connections: int) -> ConnectionLimits:
    return ConnectionLimits(
        max_connections=max_connections,
        header_timeout=config.header_timeout,
        idle_timeout=config.idle_timeout,
    )


async def start_site(
    app: web.Application, config: ServerConfig, max_connections: int
) -> tuple[web.AppRunner, GuardedSite]:
    """The app started and listening on `config.host:config.port` (0: any free port)."""
    runner = web.AppRunner(app, shutdown_timeout=config.shutdown_timeout)
    await runner.setup()
    connections = Connections(connection_limits(config, max_connections))
    site = GuardedSite(runner, config.host, config.port, connections, backlog=config.listen_backlog)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


async def serve(
    app: web.Application, config: ServerConfig, max_connections: int, ready: Callable[[], None]
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner, _ = await start_site(app, config, max_connections)
    try:
        ready()
        await stop.wait()
    finally:
        await runner.cleanup()
