"""The service's entry point: flags and environment -> `ServerConfig` -> `serve`."""

from __future__ import annotations

import asyncio
import errno
import importlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from server.api.app import create_app
from server.api.connections import descriptor_budget
from server.api.serving import serve
from server.config import ServerConfig, from_command_line
from server.errors import ConfigError
from server.operations.logs import configure_logging

MIN_CONNECTIONS: Final = 8

# Binding failures a person can fix (another server on the port, a wrong address, a port
# below 1024): one line, not a traceback.
LISTEN_ERRORS: Final = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def main(argv: list[str] | None = None) -> int:
    try:
        config = from_command_line(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"veritas-server: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, config.log_level)
    budget = descriptor_budget(config.max_connections, config.max_workers)
    if budget < MIN_CONNECTIONS:
        print(f"veritas-server: {too_few_descriptors(budget)}", file=sys.stderr)
        return 2
    config = replace(config, max_connections=budget)
    warn_if_unguarded(config)
    try:
        loop_factory = event_loop_factory(config.event_loop)
    except ImportError:
        print(f"veritas-server: --loop {config.event_loop}: not installed", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(create_app(config), config, announce(config)))
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        print(
            f"veritas-server: cannot listen on {config.host}:{config.port}: {why(exc)}",
            file=sys.stderr,
        )
        return 2
    return 0


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """None for the standard loop; uvloop's factory (ImportError when it is missing)."""
    if name == "asyncio":
        return None
    # Imported by name: an optional package, absent from most installs and from type checks.
    factory: Callable[[], asyncio.AbstractEventLoop] = importlib.import_module(name).new_event_loop
    return factory


def why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (another server is running there?)"
    return os.strerror(exc.errno or 0).lower()


def warn_if_unguarded(config: ServerConfig) -> None:
    if config.allow_private_targets:
        logging.getLogger("server").warning(
            "the private-address guard is OFF (VERITAS_ALLOW_PRIVATE_TARGETS): audits may reach "
            "this machine and its private network; use it only for tests and demos"
        )


def too_few_descriptors(budget: int) -> str:
    return (
        f"the descriptor limit (ulimit -n) leaves room for {max(budget, 0)} connections; "
        f"at least {MIN_CONNECTIONS} are needed (raise it, or lower VERITAS_MAX_WORKERS)"
    )


def announce(config: ServerConfig) -> Callable[[], None]:
    """Called once the socket listens: one line saying where, in our log format."""

    def say() -> None:
        where = "shared, in Redis" if config.store_url else config.data_dir or "memory only"
        url = f"http://{config.host}:{config.port}/"
        logging.getLogger("server").info(
            "serving on %s (data: %s; at most %d connections); Ctrl-C stops",
            url,
            where,
            config.max_connections,
        )

    return say


if __name__ == "__main__":
    sys.exit(main())
