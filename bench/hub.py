"""The naive Python hub: aiohttp with aiohttp-sse, one unbounded asyncio.Queue per subscriber.

    python -m bench.hub --port P        POST /pub (body = one event), GET /sub (SSE)

This is what a user writes first: every published body is put on every subscriber's
queue, and each subscriber's handler sends it with `EventSourceResponse.send`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from aiohttp import web
from aiohttp_sse import sse_response

from bench.proc import raise_fd_limit

SUBSCRIBERS = web.AppKey("subscribers", set[asyncio.Queue[str]])


async def publish(request: web.Request) -> web.Response:
    data = (await request.read()).decode()
    for queue in request.app[SUBSCRIBERS]:
        queue.put_nowait(data)
    return web.Response(status=202)


async def subscribe(request: web.Request) -> web.StreamResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    request.app[SUBSCRIBERS].add(queue)
    try:
        async with sse_response(request) as response:
            while response.is_connected():
                await response.send(await queue.get())
        return response
    finally:
        request.app[SUBSCRIBERS].discard(queue)


def create_app() -> web.Application:
    app = web.Application()
    app[SUBSCRIBERS] = set()
    app.router.add_post("/pub", publish)
    app.router.add_get("/sub", subscribe)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    raise_fd_limit(65536)
    web.run_app(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        print=None,
        backlog=4096,
        shutdown_timeout=0.5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
