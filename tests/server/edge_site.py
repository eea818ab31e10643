"""The app served as `python -m server` serves it (counted, timed connections), in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from server.api.app import create_app
from server.api.connections import Connections
from server.api.serving import start_site
from server.config import ServerConfig


@dataclass(frozen=True, slots=True)
class EdgeSite:
    base: str  # http://127.0.0.1:PORT
    port: int
    connections: Connections


@contextlib.asynccontextmanager
async def edge_site(config: ServerConfig, max_connections: int = 100) -> AsyncIterator[EdgeSite]:
    config = replace(config, max_connections=max_connections)
    app = create_app(config)
    runner, site = await start_site(app, config)
    try:
        yield EdgeSite(f"http://127.0.0.1:{site.port}", site.port, site.connections)
    finally:
        await runner.cleanup()


async def exchange(port: int, request: bytes, seconds: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(seconds):
            return await reader.read()
    finally:
        writer.close()


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body
