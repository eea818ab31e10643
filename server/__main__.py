"""The service's entry point: flags and environment -> `ServerConfig` -> `web.run_app`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from aiohttp import web

from server.api.app import create_app
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
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        print=announce(config),
        shutdown_timeout=config.shutdown_timeout,
    )
    return 0


def announce(config: ServerConfig) -> Callable[[str], None]:
    """What aiohttp calls once the socket listens: one line saying where, in our log format."""

    def say(_: str) -> None:
        where = config.data_dir or "memory only"
        url = f"http://{config.host}:{config.port}/"
        logging.getLogger("server").info("serving on %s (data: %s); Ctrl-C stops", url, where)

    return say


if __name__ == "__main__":
    sys.exit(main())
