"""Serving: the application on a listening socket whose connections are counted and timed.

`web.run_app` would build its own connection handlers; this is the same life cycle
(start-up, serve until SIGINT/SIGTERM, graceful shutdown) with `GuardedHandler`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from server.api.connections import Connections, GuardedHandler
from server.api.state import CONNECTIONS
from server.config import ServerConfig

logger: Final = logging.getLogger("server.api.serving")
ACCEPT_RETRY_SECONDS: Final = 0.1


class GuardedRunner(web.AppRunner):
    """An app runner whose shutdown also ends the event streams detached from aiohttp.

    aiohttp waits for the requests it still holds; a detached stream is no longer one of
    them, so it is waited for here, right after the app's shutdown hooks have ended every
    audit (and so sent every stream its terminal event), under the same bound.
    """

    def __init__(self, app: web.Application, *, shutdown_timeout: float) -> None:
        super().__init__(app, shutdown_timeout=shutdown_timeout)
        self._grace = shutdown_timeout

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.app[CONNECTIONS].close_streams(self._grace)


class GuardedSite(web.BaseSite):
    """A TCP site that accepts one connection at a time, and only when there is room.

    asyncio's own server accepts up to a backlog's worth of sockets per wake-up, before any
    of them can be counted; past the descriptor limit `accept()` fails and asyncio retries
    it in a storm of logged errors. Here each accepted connection is followed by
    then `Connections.make_room()` before the next, so the descriptors in use stay within
    the budget (plus the one just accepted).
    """

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
        self._socket: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1]) if self._socket is not None else self._port

    async def start(self) -> None:
        await super().start()
        self._socket = listen(self._host, self._port, self._backlog)
        self._accepting = asyncio.create_task(self._accept_forever(self._socket))

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._socket is not None:
            self._socket.close()
        await super().stop()

    async def _accept_forever(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
            except OSError as exc:  # out of descriptors after all, or an aborted handshake
                logger.warning("accept failed: %s", exc)
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            await self.connections.make_room()
            try:
                await loop.connect_accepted_socket(self._make_handler, connection)
            except OSError as exc:
                logger.debug("a connection closed as it was accepted: %s", exc)
                connection.close()
            except Exception:  # a bug, but one connection's: the next ones still get in
                logger.exception("could not set up an accepted connection")
                connection.close()

    def _make_handler(self) -> GuardedHandler:
        server = self._runner.server
        assert server is not None
        return GuardedHandler(self.connections, server, **handler_options(self.connections))


def listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=backlog)
    listener.setblocking(False)
    return listener


def handler_options(connections: Connections) -> dict[str, Any]:
    return {
        "loop": asyncio.get_running_loop(),
        "keepalive_timeout": connections.limits.idle_timeout,
        # An unread body is not drained: the connection closes after the response instead.
        "lingering_time": 0,
    }


async def start_site(
    app: web.Application, config: ServerConfig
) -> tuple[web.AppRunner, GuardedSite]:
    """The app started and listening on `config.host:config.port` (0: any free port)."""
    runner = GuardedRunner(app, shutdown_timeout=config.shutdown_timeout)
    await runner.setup()
    site = GuardedSite(
        runner, config.host, config.port, app[CONNECTIONS], backlog=config.listen_backlog
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


async def serve(app: web.Application, config: ServerConfig, ready: Callable[[], None]) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner, _ = await start_site(app, config)
    try:
        ready()
        await stop.wait()
    finally:
        await runner.cleanup()
