"""The service's entry point: flags and environment -> `ServerConfig` -> `web.run_app`."""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from server.app import create_app
from server.config import from_command_line
from server.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    try:
        config = from_command_line(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"veritas-server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
