"""The client's settings: the same command line as a local run, plus `--server` and `--watch`.

VERITAS_API_TOKEN              the server's token when --token is not given
VERITAS_CLIENT_READ_TIMEOUT    seconds of silence before a stream counts as lost (60; the
                               server pings every 15 s)
VERITAS_CLIENT_RECONNECTS      attempts in a row to reach the stream again (20)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from veritas.config import RunOptions, build_parser, load_run_options, read_target
from veritas.errors import UsageError

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ClientLimits:
    read_timeout: float = 60.0
    connect_timeout: float = 10.0
    reconnects: int = 20  # attempts in a row; a delivered event resets the count
    max_delay: float = 10.0  # the longest wait between two attempts, whatever `retry:` says
    max_line_bytes: int = 32 * MIB  # one SSE line: a screenshot's base64 fits
    max_body_bytes: int = MIB  # a JSON answer (the audit's creation, an error)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    server: str  # base URL, no trailing slash
    token: str | None = field(default=None, repr=False)
    watch: str | None = None  # an audit id to follow instead of starting one
    url: str | None = None
    tier: str = "standard_audit"
    verdict_mode: str = "simple"
    security_modules: tuple[str, ...] | None = None  # None: the server's default
    json: bool = False
    output: Path | None = None
    verbose: bool = False
    notice: str | None = None
    run: RunOptions = field(default_factory=RunOptions)
    limits: ClientLimits = field(default_factory=ClientLimits)


def load_client_config(argv: Sequence[str], environ: Mapping[str, str]) -> ClientConfig | None:
    """The client's settings, or None when the command line asks for a local run."""
    args = build_parser().parse_args(list(argv))
    if args.server is None and args.watch is None:
        return None
    if args.server is None:
        raise UsageError("--watch needs --server BASE (the server that runs the audit)")
    if args.watch is not None and args.url is not None:
        raise UsageError("give either a URL to audit or --watch AUDIT_ID, not both")
    url, notice = (None, None) if args.watch is not None else read_target(args.url)
    return ClientConfig(
        server=server_base(args.server),
        token=args.token or environ.get("VERITAS_API_TOKEN") or None,
        watch=args.watch,
        url=url,
        tier=args.tier,
        verdict_mode=args.verdict_mode,
        security_modules=_modules(args.security_modules),
        json=args.json,
        output=Path(args.output) if args.output else None,
        verbose=args.verbose,
        notice=notice,
        run=load_run_options(args),
        limits=_limits(environ),
    )


def server_base(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--server must be an http(s) URL such as http://127.0.0.1:8080, not {text!r}"
        )
    return text.rstrip("/")


def _modules(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def _limits(environ: Mapping[str, str]) -> ClientLimits:
    limits = ClientLimits()
    timeout = environ.get("VERITAS_CLIENT_READ_TIMEOUT", "").strip()
    reconnects = environ.get("VERITAS_CLIENT_RECONNECTS", "").strip()
    return ClientLimits(
        read_timeout=_number("VERITAS_CLIENT_READ_TIMEOUT", timeout)
        if timeout
        else limits.read_timeout,
        reconnects=int(_number("VERITAS_CLIENT_RECONNECTS", reconnects))
        if reconnects
        else limits.reconnects,
    )


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive number, got {text!r}")
    return value
