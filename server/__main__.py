"""The service's entry point: flags and environment -> `ServerConfig` -> `web.run_app`."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace

from server.api.app import create_app
from server.api.connections import descriptor_budget
from server.api.serving import serve
from server.config import ServerConfig, from_command_line
from server.errors import ConfigError
from server.operations.logs import configure_logging


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
    asyncio.run(serve(create_app(config), config, announce(config)))
    return 0


MIN_CONNECTIONS = 8


def too_few_descriptors(budget: int) -> str:
    return (
        f"the descriptor limit (ulimit -n) leaves room for {max(budget, 0)} connections; "
        f"at least {MIN_CONNECTIONS} are needed (raise it, or lower VERITAS_MAX_WORKERS)"
    )


def announce(config: ServerConfig) -> Callable[[], None]:
    """Called once the socket listens: one line saying where, in our log format."""

    def say() -> None:
        where = config.data_dir or "memory only"
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
