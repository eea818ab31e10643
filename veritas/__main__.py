"""The auditor's entry point: CLI -> config -> asyncio.run(); exit statuses.

0    the audit produced a result (however damning)
1    an uncaught exception (Python's own status): a crash
2    bad arguments or environment (one line on stderr)
3    a result was produced but no event channel was left to carry it
4    no result: the target was refused or its entry page could not be fetched
5    a result was produced and its trust score is below --fail-under
130  interrupted (SIGINT); 143 terminated (SIGTERM)

The statuses are defined in `protocol.exits`, since the server maps them to outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from protocol import exits

if TYPE_CHECKING:
    from veritas.client.options import ClientConfig

EXIT_USAGE: Final = exits.USAGE


def claim_stdout() -> int:
    """Reserve the real stdout for protocol lines; everything else printed goes to stderr.

    The original descriptor 1 is duplicated for the channel, then descriptor 1 itself is
    pointed at stderr, so a stray `print` or a C library's write cannot corrupt the stream.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    answered = help_or_version(args)
    if answered is not None:
        return answered
    stdout_fd = claim_stdout()
    # Imported after the claim: nothing they print at import time can reach the channel.
    # Only light modules here; the analysers load after `hello` is on its way.
    from veritas.client.options import load_client_config
    from veritas.config import SECURITY_MODULE_NAMES, load_config
    from veritas.errors import UsageError

    try:
        client = load_client_config(args, os.environ)
        if client is not None:
            return run_on_server(client, stdout_fd)
        config = load_config(args, os.environ, SECURITY_MODULE_NAMES)
    except UsageError as exc:
        print(f"veritas: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if config.run.notice:
        print(f"veritas: {config.run.notice}", file=sys.stderr)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if config.verbose else logging.WARNING,
        format="veritas[%(process)d] %(levelname)s %(message)s",
    )
    from veritas.process import run

    return asyncio.run(run(config, stdout_fd))


# Help, the version and the server client -------------------------------------------------


def help_or_version(args: Sequence[str]) -> int | None:
    """`--help` and `--version` answer on the real stdout, before it is claimed; not when
    stdout is an event channel (`--ipc` or `VERITAS_IPC_*`), which carries protocol only."""
    if not {"-h", "--help", "--version"} & set(args) or _channel_asked(args):
        return None
    from veritas.config import build_parser
    from veritas.errors import UsageError

    try:
        build_parser().parse_args(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError:
        return None  # the normal path reports it, in one line
    return None


def _channel_asked(args: Sequence[str]) -> bool:
    flags = any(arg.startswith("--ipc") for arg in args)
    return flags or bool(os.environ.get("VERITAS_IPC_MODE") or os.environ.get("VERITAS_IPC_FD"))


def run_on_server(client: ClientConfig, stdout_fd: int) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if client.verbose else logging.WARNING,
        format="veritas %(levelname)s %(message)s",
    )
    if client.notice:
        print(f"veritas: {client.notice}", file=sys.stderr)
    from veritas.client.session import run_client

    return asyncio.run(run_client(client, stdout_fd))


if __name__ == "__main__":
    sys.exit(main())
