"""Playwright's driver: the Node.js process Playwright for Python starts, and its V8 options.

    async with contextlib.AsyncExitStack() as stack:
        with node_options(DRIVER_NODE_OPTIONS):
            driver = await stack.enter_async_context(async_playwright())

Playwright copies this process's environment when it spawns the driver and takes no
options for it, so `NODE_OPTIONS` is set around that spawn and restored right after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

# --max-semi-space-size=1: V8's young generation at 1 MiB per semi-space rather than up
#   to 16; the driver allocates little per message, and this is its largest heap saving
#   (about 15 MiB of its ~145, docs/benchmarks.md "Deep audits").
# --max-old-space-size=256: a bound, not a saving: a driver that would grow past it (a
#   huge DOM passed through it) dies, and the audit ends with a phase error, rather than
#   taking the machine's memory. The rendered DOM kept is 2 MiB at most.
# Not --jitless: about 14 MiB less, but it also removes WebAssembly, which Node's own HTTP
#   client loads (with Node.js 20 the driver died at start); not worth a driver that may
#   die on a code path.
DRIVER_NODE_OPTIONS: Final = ("--max-semi-space-size=1", "--max-old-space-size=256")


@contextmanager
def node_options(options: tuple[str, ...]) -> Iterator[None]:
    """`options` put before the operator's own `NODE_OPTIONS` (which come later, so they win
    where both set one option) while the block runs; the auditor starts no other Node.js
    process meanwhile."""
    before = os.environ.get("NODE_OPTIONS")
    os.environ["NODE_OPTIONS"] = " ".join(filter(None, (*options, before)))
    try:
        yield
    finally:
        if before is None:
            del os.environ["NODE_OPTIONS"]
        else:
            os.environ["NODE_OPTIONS"] = before
