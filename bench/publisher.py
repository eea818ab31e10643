"""The publisher for the hubs that take events over HTTP (Nchan, the naive hub).

    python -m bench.publisher --port P --path /pub --count E --rate R

One keep-alive connection; each event of the synthetic stream is POSTed as the JSON the
server would put in an SSE `data:` line, stamped at send time. Requests are pipelined
(at most `MAX_IN_FLIGHT` unanswered) so the publisher keeps its rate while a busy hub
answers late, as the emitter does with a pipe that never waits for the reader.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Final

from bench.stream import EventStream

MAX_IN_FLIGHT: Final = 256


async def read_responses(
    reader: asyncio.StreamReader, count: int, in_flight: asyncio.Semaphore
) -> None:
    for _ in range(count):
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if not status.split()[1].startswith(b"2"):
            raise RuntimeError(f"publish refused: {status.decode(errors='replace')}")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        in_flight.release()


async def publish(host: str, port: int, path: str, count: int, rate: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    stream = EventStream()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    async with asyncio.TaskGroup() as group:
        group.create_task(read_responses(reader, count, in_flight))
        start = time.monotonic()
        for index in range(count):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            body = json.dumps(stream.event(index + 2), separators=(",", ":")).encode()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
    writer.close()
    await writer.wait_closed()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publisher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/pub")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(publish(args.host, args.port, args.path, args.count, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
