"""The SSE load generator: one process holding many subscriber connections, parsing little.

    python -m bench.subscriber --port P --path /audits/ID/events --count N --expect E

Each connection sends one `GET` and counts the events it receives by their `mono_ns`
stamp, without parsing SSE or JSON in full: the clients, not the servers, were the
limit in earlier measurements, so each delivery costs a substring search. Latency is
taken on a sample of connections (every event of those), as `monotonic_ns()` when the
bytes arrive minus the stamp. When every connection holds its response headers the
process prints `READY n`; when each has `expect` events (or the time is up) it prints
one JSON line of results and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bench.proc import raise_fd_limit

MARKER: Final = b'"mono_ns":'
CONNECT_CONCURRENCY: Final = 200
MAX_PARTIAL: Final = 1024 * 1024  # a line longer than this is not one of ours
LATENCY_CONNECTIONS: Final = 40  # connections per process whose every latency is kept


@dataclass
class Totals:
    ready: int = 0
    failed: int = 0
    done: int = 0
    deliveries: int = 0
    first_ns: int = 0
    last_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self) -> None:
        """One more connection has its headers or has failed."""
        if self.ready + self.failed >= self.expected:
            self.all_in.set()


class Subscriber(asyncio.Protocol):
    """One SSE connection: headers, then a count of stamped events."""

    def __init__(self, request: bytes, expect: int, totals: Totals, sampled: bool) -> None:
        self.request = request
        self.expect = expect
        self.totals = totals
        self.sampled = sampled
        self.received = 0
        self.headers_done = False
        self.partial = b""
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if not self.headers_done:
            data = self._headers(data)
        buf = self.partial + data
        end = buf.rfind(b"\n") + 1
        self.partial = buf[end:] if len(buf) - end <= MAX_PARTIAL else b""
        found = buf.count(MARKER, 0, end)
        if found:
            self._count(buf, end, found, now)

    def _headers(self, data: bytes) -> bytes:
        buf = self.partial + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.partial = buf
            return b""
        self.partial = b""
        status = buf.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            self._fail(f"status: {status.decode(errors='replace')}")
            return b""
        self.headers_done = True
        self.totals.ready += 1
        self.totals.arrived()
        return buf[end + 4 :]

    def _count(self, buf: bytes, end: int, found: int, now: int) -> None:
        totals = self.totals
        totals.deliveries += found
        self.received += found
        totals.first_ns = totals.first_ns or now
        totals.last_ns = now
        if self.sampled:
            start = 0
            for _ in range(found):
                start = buf.index(MARKER, start) + len(MARKER)
                stop = start
                while buf[stop : stop + 1].isdigit():
                    stop += 1
                totals.latencies_ns.append(now - int(buf[start:stop]))
        if self.received >= self.expect:
            self.totals.done += 1
            self._close()

    def _fail(self, why: str) -> None:
        self.totals.failed += 1
        self.totals.arrived()
        if len(self.totals.errors) < 5:
            self.totals.errors.append(why)
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


async def connect(host: str, port: int, sub: Subscriber, gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            await asyncio.get_running_loop().create_connection(lambda: sub, host, port)
        except OSError as exc:
            sub._fail(f"connect: {exc}")
            sub.connection_lost(exc)


async def run(args: argparse.Namespace) -> Totals:
    totals = Totals(expected=args.count)
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    ).encode()
    every = max(1, args.count // LATENCY_CONNECTIONS)
    subs = [Subscriber(request, args.expect, totals, i % every == 0) for i in range(args.count)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    deadline = time.monotonic() + args.timeout
    async with asyncio.TaskGroup() as group:
        for sub in subs:
            group.create_task(connect(args.host, args.port, sub, gate))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(totals.all_in.wait(), max(0.1, deadline - time.monotonic()))
    print(f"READY {totals.ready}", flush=True)
    pending = [s.finished for s in subs if not s.finished.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(0.1, deadline - time.monotonic()))
    for sub in subs:
        sub._close()
    return totals


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriber")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True, help="stamped events per connection")
    parser.add_argument("--timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_fd_limit(args.count + 64)
    cpu0 = time.process_time()
    totals = asyncio.run(run(args))
    report = {k: v for k, v in totals.__dict__.items() if k != "all_in"}
    report["cpu_s"] = time.process_time() - cpu0
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
