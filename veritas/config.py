"""The auditor's configuration: CLI flags and `VERITAS_*` variables, validated once, frozen.

Every limit of the process lives here, so that tests and operators change one place:

    VERITAS_CONNECT_TIMEOUT        seconds to open a connection (10)
    VERITAS_PAGE_TIMEOUT           seconds for one page, redirects included (20)
    VERITAS_MAX_PAGE_BYTES         body bytes kept per page, counted after decompression (2 MiB)
    VERITAS_MAX_REDIRECTS          redirects followed per page (10)
    VERITAS_MAX_HEADER_SIZE        bytes of one response header line (16 KiB)
    VERITAS_MAX_HEADERS            response headers per response (128)
    VERITAS_FETCH_CONCURRENCY      pages fetched at once (4)
    VERITAS_AUDIT_TIMEOUT          overall seconds, overriding the tier's limit
    VERITAS_CHANNEL_HIGH_WATER     bytes queued for a channel before the audit waits (1 MiB)
    VERITAS_CHANNEL_STALL_TIMEOUT  seconds a channel may accept nothing before it counts as
                                   broken (30)
    VERITAS_CHANNEL_CLOSE_TIMEOUT  seconds to flush the channels at exit (5)
    VERITAS_MAX_REPLAY_BYTES       bytes of events kept for a replay after a fallback (64 MiB)
    VERITAS_MAX_FINDINGS_PER_PATTERN  findings reported of one pattern type (25)
    VERITAS_MAX_FINDINGS           findings reported in one audit (400); the rest are counted
    VERITAS_ALLOW_PRIVATE_TARGETS  1 lifts the private-address guard (tests, intranet)
    VERITAS_ALLOW_TARGETS          ADDR:PORT,... the only private endpoints let through (a demo)
    VERITAS_IPC_MODE, VERITAS_IPC_FD   the channel when no flag names it

Network flags, as curl's: `--connect-to HOST:PORT:ADDR:PORT` (repeatable) sends connections
for HOST:PORT to ADDR:PORT, the guard judging ADDR; `--ca-file PEM` verifies certificates
against the authorities in PEM instead of the system's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, NoReturn

from protocol.errors import TargetError
from protocol.events import IPC_MODES, SECURITY_MODULES, TIERS, VERDICT_MODES
from protocol.framing import DEFAULT_MAX_FRAME_SIZE
from protocol.targets import (
    ConnectTo,
    Endpoint,
    ParsedTarget,
    check_url,
    parse_connect_to,
    parse_endpoints,
)
from veritas.errors import UsageError
from veritas.report.output import REPORT_FORMATS, check_writable

MIB: Final = 1024 * 1024
# The names `--security-modules` accepts: the protocol's list, shared with the server and
# known without importing the analysers (which take most of the start-up time); a test
# holds it equal to `veritas.analysis.SECURITY_MODULES`.
SECURITY_MODULE_NAMES: Final = SECURITY_MODULES


@dataclass(frozen=True, slots=True)
class Budget:
    """What a tier may spend: same-site pages (the entry page included), scripts, seconds."""

    pages: int
    scripts: int
    time_limit: float


TIER_BUDGETS: Final[Mapping[str, Budget]] = {
    "quick_scan": Budget(pages=1, scripts=1, time_limit=30.0),
    "standard_audit": Budget(pages=5, scripts=5, time_limit=90.0),
    "deep_forensic": Budget(pages=10, scripts=10, time_limit=180.0),
}


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 10.0
    page_timeout: float = 20.0
    max_page_bytes: int = 2 * MIB
    max_redirects: int = 10
    max_header_size: int = 16 * 1024
    max_headers: int = 128
    fetch_concurrency: int = 4
    audit_timeout: float | None = None  # None: the tier's time limit
    channel_high_water: int = MIB
    channel_stall_timeout: float = 30.0
    channel_close_timeout: float = 5.0
    max_replay_bytes: int = 64 * MIB
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    # With findings' text fields cut (veritas.finding), these keep every event and the
    # audit_result far below the frame limit, whatever a target serves.
    max_findings_per_pattern: int = 25
    max_findings: int = 400


@dataclass(frozen=True, slots=True)
class Config:
    target: ParsedTarget
    tier: str = "standard_audit"
    verdict_mode: str = "simple"
    security_modules: tuple[str, ...] = ()
    ipc: str | None = None  # None: run by hand, events only feed the progress display
    ipc_fd: int | None = None
    json: bool = False
    output: Path | None = None
    verbose: bool = False
    allow_private: bool = False
    connect_to: tuple[ConnectTo, ...] = ()
    ca_file: Path | None = None
    allow_targets: frozenset[Endpoint] = frozenset()  # private endpoints let through
    limits: Limits = field(default_factory=Limits)
    # RunOptions is defined below, with the other flags around an audit.
    run: RunOptions = field(default_factory=lambda: RunOptions())  # noqa: PLW0108

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def budget(self) -> Budget:
        budget = TIER_BUDGETS[self.tier]
        if self.limits.audit_timeout is not None:
            return replace(budget, time_limit=self.limits.audit_timeout)
        return budget


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting: one line, our exit code."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="veritas", description="Audit how trustworthy a website is, as a stream of events."
    )
    parser.add_argument("url", nargs="?", help="the http or https URL to audit")
    parser.add_argument("--tier", choices=TIERS, default="standard_audit")
    parser.add_argument("--verdict-mode", choices=VERDICT_MODES, default="simple")
    parser.add_argument("--security-modules", metavar="A,B", help="run only these modules")
    parser.add_argument("--ipc", choices=IPC_MODES, help="event channel (default: none, by hand)")
    parser.add_argument("--ipc-fd", metavar="N", help="the pipe's write end for --ipc pipe")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the result as JSON to FILE")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR:PORT",
        help="connect to ADDR:PORT for requests to HOST:PORT (as curl's; the guard judges ADDR)",
    )
    parser.add_argument(
        "--ca-file", metavar="PEM", help="trust only these CA certificates (as curl's --cacert)"
    )
    add_tool_arguments(parser)
    return parser


def load_config(
    argv: Sequence[str], environ: Mapping[str, str], known_modules: Iterable[str]
) -> Config:
    """Parse and validate everything once; raise `UsageError` with a message a user can act on."""
    args = build_parser().parse_args(list(argv))
    url, notice = read_target(args.url)
    try:
        target = check_url(url)
    except TargetError as exc:
        raise UsageError(f"{args.url!r} cannot be audited: {exc}") from exc
    ipc = args.ipc or _env_choice(environ, "VERITAS_IPC_MODE", IPC_MODES)
    fd_text = args.ipc_fd if args.ipc_fd is not None else environ.get("VERITAS_IPC_FD")
    if ipc is None and fd_text:
        ipc = "pipe"
    return Config(
        target=target,
        tier=args.tier,
        verdict_mode=args.verdict_mode,
        security_modules=_modules(args.security_modules, tuple(known_modules)),
        ipc=ipc,
        ipc_fd=_ipc_fd(ipc, fd_text),
        json=args.json,
        output=Path(args.output) if args.output else None,
        verbose=args.verbose,
        allow_private=_flag(environ, "VERITAS_ALLOW_PRIVATE_TARGETS"),
        allow_targets=_allow_targets(environ.get("VERITAS_ALLOW_TARGETS", "")),
        connect_to=tuple(_connect_to(text) for text in args.connect_to),
        ca_file=_ca_file(args.ca_file),
        limits=load_limits(environ),
        run=load_run_options(args, notice),
    )


def _allow_targets(text: str) -> frozenset[Endpoint]:
    try:
        return parse_endpoints(text)
    except TargetError as exc:
        raise UsageError(f"VERITAS_ALLOW_TARGETS: {exc}") from exc


def _connect_to(text: str) -> ConnectTo:
    try:
        return parse_connect_to(text)
    except TargetError as exc:
        raise UsageError(f"--connect-to: {exc}") from exc


def _ca_file(text: str | None) -> Path | None:
    """The PEM file, once it is known to load as trusted certificates."""
    if text is None:
        return None
    path = Path(text)
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise UsageError(f"--ca-file {text!r} holds no usable CA certificates: {exc}") from exc
    return path


def _env_choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _modules(text: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return known
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"unknown security module {unknown[0]!r}; known modules: {', '.join(known)}"
        )
    return names


def _ipc_fd(ipc: str | None, text: str | None) -> int | None:
    if ipc not in ("pipe", "validate"):
        return None
    if text is None or not text.strip():
        raise UsageError(f"--ipc {ipc} needs a file descriptor: --ipc-fd N or VERITAS_IPC_FD")
    try:
        fd = int(text)
    except ValueError:
        raise UsageError(f"--ipc-fd must be a file descriptor number, got {text!r}") from None
    if fd < 3:
        raise UsageError(f"--ipc-fd {fd} is a standard stream; pass the pipe's own descriptor")
    # A number that is not open is not a usage error: the channel falls back to stdout.
    return fd


def _flag(environ: Mapping[str, str], name: str) -> bool:
    text = environ.get(name, "")
    value = text.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise UsageError(f"{name} must be 1 or 0, got {text!r}")


def load_limits(environ: Mapping[str, str]) -> Limits:
    """`Limits` with every `VERITAS_<FIELD>` variable that is set applied and checked."""
    overrides: dict[str, Any] = {}
    for spec in fields(Limits):
        name = "VERITAS_" + spec.name.upper()
        text = environ.get(name, "").strip()
        if text:
            overrides[spec.name] = _positive(name, text, float if "timeout" in spec.name else int)
    return Limits(**overrides)


def _positive(name: str, text: str, kind: Callable[[str], float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{name} must be a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive number, got {text!r}")
    return value


# Reports, the score gate and the server client ----------------------------------------------
# Kept together, apart from the audit's own settings above: the flags a person or a CI job
# uses around an audit, shared by a local run and a run on a server (veritas.client).


@dataclass(frozen=True, slots=True)
class RunOptions:
    report_format: str = "json"  # of the -o file
    fail_under: int | None = None  # exit status 5 below this trust score
    notice: str | None = None  # how the URL was read, said on stderr before the audit


def add_tool_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reports, CI gate and server")
    group.add_argument("--report", choices=REPORT_FORMATS, help="format of the -o file (json)")
    group.add_argument(
        "--fail-under", metavar="N", help="exit with status 5 when the trust score is below N"
    )
    group.add_argument("--server", metavar="BASE", help="run the audit on a Veritas server")
    group.add_argument("--token", metavar="T", help="the server's API token (VERITAS_API_TOKEN)")
    group.add_argument("--watch", metavar="AUDIT_ID", help="follow an audit on --server")
    group.add_argument("--version", action="version", version=f"veritas {version()}")


def version() -> str:
    try:
        return importlib.metadata.version("veritas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_target(text: str | None) -> tuple[str, str | None]:
    """A bare host (`example.org`) is read as `https://example.org/`; the notice says so."""
    if text is None:
        raise UsageError(
            "the following arguments are required: url (or --watch AUDIT_ID with --server BASE)"
        )
    if "://" in text or not text.strip() or any(c.isspace() for c in text):
        return text, None
    url = f"https://{text}" if "/" in text else f"https://{text}/"
    return url, f"reading {text!r} as {url}"


def load_run_options(args: argparse.Namespace, notice: str | None = None) -> RunOptions:
    output = Path(args.output) if args.output else None
    if args.report == "html" and output is None:
        raise UsageError("--report html needs -o FILE")
    if output is not None:
        check_writable(output)
    return RunOptions(
        report_format=args.report or "json",
        fail_under=fail_under(args.fail_under),
        notice=notice,
    )


def fail_under(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise UsageError(f"--fail-under must be a score from 0 to 100, got {text!r}")
    return int(text)
