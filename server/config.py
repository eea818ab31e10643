"""The server's configuration: one frozen `ServerConfig`, every limit in one place.

Filled from CLI flags (strongest), then `VERITAS_*` environment variables, then the
defaults below; validated once, with an error naming the flag or variable.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from protocol.errors import TargetError
from protocol.events import IPC_MODES, TIERS
from protocol.targets import Endpoint, parse_endpoints
from server.api.connections import ConnectionLimits
from server.api.cors import CorsPolicy
from server.errors import ConfigError
from server.operations.logs import LOG_FORMATS
from server.operations.retention import RetentionPolicy
from server.stores.sqlite import StoreSettings
from server.streaming.log import LogLimits
from server.streaming.runner import RunnerConfig
from server.streaming.sse import SseSettings

STORE_SCHEMES: Final = ("redis://", "rediss://", "unix://")
ON_LOST: Final = ("interrupted", "requeue")
# The standard loop, or uvloop (an optional package) where it measures faster.
EVENT_LOOPS: Final = ("asyncio", "uvloop")
DEFAULT_TIER_SECONDS: Final = {"quick_scan": 30.0, "standard_audit": 90.0, "deep_forensic": 180.0}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path | None = Path("var")  # None: nothing kept on disk
    store_url: str | None = None  # redis://HOST:PORT/DB: audits shared by several instances
    lease_seconds: float = 10.0  # shared store: an instance silent this long loses its audits
    on_lost: str = "interrupted"  # shared store: a lost audit ends ("interrupted") or "requeue"
    max_requeues: int = 2  # shared store, on_lost=requeue: runs again at most this often
    # audits
    max_workers: int = 4
    max_browsers: int = 1  # deep audits running at once (each drives a browser); within max_workers
    max_queued: int = 100
    retry_after: int = 5  # seconds suggested to a client refused with 429
    tier_seconds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_SECONDS))
    time_margin: float = 10.0  # added to a tier's time: start-up, the last phase, the report
    kill_grace: float = 3.0  # seconds between SIGTERM and SIGKILL of the worker's group
    ipc_mode: str | None = None  # VERITAS_IPC_MODE; None: the rollout decides
    ipc_rollout: float = 1.0  # share of audits that use the pipe
    worker_command: tuple[str, ...] | None = None  # None: `sys.executable -m veritas`
    allow_private_targets: bool = False
    allow_targets: frozenset[Endpoint] = frozenset()  # private ADDR:PORT endpoints let through
    resolve_timeout: float = 2.0
    # requests
    max_body_bytes: int = 64 * 1024
    max_url_length: int = 2048
    list_default_limit: int = 20
    list_max_limit: int = 100
    body_timeout: float = 30.0  # seconds a request body may take to arrive (408 after)
    # connections: what a slow or idle client may hold (see docs/operations.md)
    header_timeout: float = 10.0  # seconds from connecting (or a first byte) to a whole head
    idle_timeout: float = 75.0  # seconds a keep-alive connection may wait for its next request
    max_connections: int = 10_000  # lowered at start-up to fit the descriptor limit
    listen_backlog: int = 128  # also the most connections accepted in one go
    history_scan_limit: int = 5000  # audits a ?url= / ?host= filter reads per request
    # streams and logs
    ping_interval: float = 15.0
    slow_subscriber_deadline: float = 10.0
    retry_ms: int = 2000
    retry_jitter_ms: int = 3000
    replay_batch_bytes: int = 256 * 1024
    max_log_events: int = 100_000
    max_log_bytes: int = 64 * 1024 * 1024
    max_finished_logs: int = 32  # finished audits kept in memory; older ones come from the store
    # durability: the store, retention, shutdown
    store_batch_ms: float = 0.0  # the writer waits this long to gather a batch; 0: commits at once
    store_batch_events: int = 512  # about the most events one transaction holds
    # Events reach subscribers only once committed; off only to measure what that costs.
    durable_visibility: bool = True
    store_max_pending_bytes: int = 64 * 1024 * 1024  # uncommitted event data held in memory
    store_synchronous: str = "FULL"  # SQLite fsync policy: FULL, NORMAL (SIGKILL-safe), OFF
    retention_max_audits: int = 10_000  # 0: no limit by count
    retention_max_age_days: float = 30.0  # 0: no limit by age
    retention_interval: float = 3600.0  # seconds between two prunings
    shutdown_timeout: float = 10.0  # SIGTERM: seconds open streams get before they are cut
    # access and operations
    api_token: str | None = field(default=None, repr=False)  # None: no token required
    cors_origins: tuple[str, ...] = ()  # browser origins allowed, or ("*",)
    log_format: str = "text"  # or "json": one object per line
    log_level: str = "INFO"
    event_loop: str = "asyncio"  # or "uvloop" when it is installed (docs/benchmarks.md)

    def __post_init__(self) -> None:
        for name in ("max_workers", "max_browsers", "max_queued", "retry_after", "max_body_bytes"):
            _at_least(name, getattr(self, name), 1)
        for name in (
            "max_url_length",
            "list_default_limit",
            "list_max_limit",
            "history_scan_limit",
        ):
            _at_least(name, getattr(self, name), 1)
        for name in ("max_connections", "listen_backlog"):
            _at_least(name, getattr(self, name), 1)
        for name in ("body_timeout", "header_timeout", "idle_timeout"):
            _positive(name, getattr(self, name))
        for name in ("replay_batch_bytes", "max_log_bytes", "max_finished_logs"):
            _at_least(name, getattr(self, name), 1)
        _at_least("max_log_events", self.max_log_events, 2)
        _at_least("port", self.port, 0)
        _at_least("retry_ms", self.retry_ms, 0)
        _at_least("retry_jitter_ms", self.retry_jitter_ms, 0)
        for name in ("time_margin", "kill_grace"):
            _positive(name, getattr(self, name), zero_ok=True)
        for name in ("resolve_timeout", "ping_interval", "slow_subscriber_deadline"):
            _positive(name, getattr(self, name))
        self._check_choices()
        self._check_operations()

    def _check_operations(self) -> None:
        for name in ("store_batch_events", "store_max_pending_bytes"):
            _at_least(name, getattr(self, name), 1)
        _at_least("retention_max_audits", self.retention_max_audits, 0)
        for name in ("store_batch_ms", "retention_max_age_days"):
            _positive(name, getattr(self, name), zero_ok=True)
        for name in ("retention_interval", "shutdown_timeout", "lease_seconds"):
            _positive(name, getattr(self, name))
        if self.on_lost not in ON_LOST:
            raise ConfigError(f"VERITAS_ON_LOST must be one of {', '.join(ON_LOST)}")
        _at_least("max_requeues", self.max_requeues, 0)
        if self.store_synchronous not in ("FULL", "NORMAL", "OFF"):
            raise ConfigError("VERITAS_STORE_SYNCHRONOUS must be FULL, NORMAL or OFF")
        if self.store_url is not None and not self.store_url.startswith(STORE_SCHEMES):
            raise ConfigError(f"VERITAS_STORE must be a {' or '.join(STORE_SCHEMES)} URL")
        if self.api_token is not None and not self.api_token.strip():
            raise ConfigError("VERITAS_API_TOKEN must not be blank (unset it for no token)")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"VERITAS_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("VERITAS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        try:
            CorsPolicy.parse(",".join(self.cors_origins))
        except ValueError as exc:
            raise ConfigError(f"VERITAS_CORS_ORIGINS: {exc}") from exc

    def _check_choices(self) -> None:
        if self.port > 65535:
            raise ConfigError(f"port must be at most 65535, got {self.port}")
        if set(self.tier_seconds) != set(TIERS):
            raise ConfigError(f"tier_seconds must name exactly the tiers {', '.join(TIERS)}")
        for tier, seconds in self.tier_seconds.items():
            _positive(f"time limit of {tier}", seconds)
        if self.ipc_mode is not None and self.ipc_mode not in IPC_MODES:
            raise ConfigError(
                f"VERITAS_IPC_MODE must be one of {', '.join(IPC_MODES)}, got {self.ipc_mode!r}"
            )
        if not 0.0 <= self.ipc_rollout <= 1.0:
            raise ConfigError(f"VERITAS_IPC_ROLLOUT must be within 0..1, got {self.ipc_rollout}")
        if self.list_default_limit > self.list_max_limit:
            raise ConfigError("list_default_limit must not exceed list_max_limit")
        if self.worker_command is not None and not self.worker_command:
            raise ConfigError("worker_command must not be empty")
        if self.event_loop not in EVENT_LOOPS:
            raise ConfigError(f"VERITAS_LOOP must be one of {', '.join(EVENT_LOOPS)}")

    def time_limit(self, tier: str) -> float:
        return self.tier_seconds[tier] + self.time_margin

    @property
    def runner(self) -> RunnerConfig:
        runner = RunnerConfig(
            grace_seconds=self.kill_grace,
            allow_private_targets=self.allow_private_targets,
            allow_targets=self.allow_targets,
        )
        if self.worker_command is not None:
            runner = replace(runner, worker_command=self.worker_command)
        return runner

    @property
    def connections(self) -> ConnectionLimits:
        return ConnectionLimits(
            max_connections=self.max_connections,
            header_timeout=self.header_timeout,
            idle_timeout=self.idle_timeout,
        )

    @property
    def log_limits(self) -> LogLimits:
        return LogLimits(max_events=self.max_log_events, max_bytes=self.max_log_bytes)

    @property
    def store(self) -> StoreSettings:
        return StoreSettings(
            batch_interval=self.store_batch_ms / 1000,
            batch_max_events=self.store_batch_events,
            max_pending_bytes=self.store_max_pending_bytes,
            synchronous=self.store_synchronous,
        )

    @property
    def retention(self) -> RetentionPolicy:
        return RetentionPolicy(
            max_audits=self.retention_max_audits or None,
            max_age_seconds=self.retention_max_age_days * 86400 or None,
            interval=self.retention_interval,
        )

    @property
    def cors(self) -> CorsPolicy | None:
        return CorsPolicy.parse(",".join(self.cors_origins)) if self.cors_origins else None

    @property
    def sse(self) -> SseSettings:
        return SseSettings(
            ping_interval=self.ping_interval,
            write_deadline=self.slow_subscriber_deadline,
            retry_ms=self.retry_ms,
            retry_jitter_ms=self.retry_jitter_ms,
            batch_bytes=self.replay_batch_bytes,
        )


def _at_least(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _positive(name: str, value: float, *, zero_ok: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{name} must be a {'non-negative' if zero_ok else 'positive'} number")


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {text!r}")


def _data_dir(text: str) -> Path | None:
    return Path(text) if text else None


def _endpoints(text: str) -> frozenset[Endpoint]:
    try:
        return parse_endpoints(text)
    except TargetError as exc:
        raise ValueError(str(exc)) from exc


def _command(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _origins(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _token(text: str) -> str | None:
    return text or None


# VERITAS_<NAME> -> (field, parser). The tier limits are VERITAS_TIME_<TIER>.
ENVIRONMENT: Final[Mapping[str, tuple[str, Callable[[str], Any]]]] = {
    "VERITAS_HOST": ("host", str),
    "VERITAS_PORT": ("port", int),
    "VERITAS_DATA_DIR": ("data_dir", _data_dir),
    "VERITAS_STORE": ("store_url", lambda s: s.strip() or None),
    "VERITAS_LEASE_SECONDS": ("lease_seconds", float),
    "VERITAS_ON_LOST": ("on_lost", lambda s: s.strip().lower()),
    "VERITAS_MAX_REQUEUES": ("max_requeues", int),
    "VERITAS_MAX_WORKERS": ("max_workers", int),
    "VERITAS_MAX_BROWSERS": ("max_browsers", int),
    "VERITAS_MAX_QUEUED": ("max_queued", int),
    "VERITAS_RETRY_AFTER": ("retry_after", int),
    "VERITAS_TIME_MARGIN": ("time_margin", float),
    "VERITAS_KILL_GRACE": ("kill_grace", float),
    "VERITAS_IPC_MODE": ("ipc_mode", lambda s: s.strip() or None),
    "VERITAS_IPC_ROLLOUT": ("ipc_rollout", float),
    "VERITAS_WORKER_COMMAND": ("worker_command", _command),
    "VERITAS_ALLOW_PRIVATE_TARGETS": ("allow_private_targets", _flag),
    "VERITAS_ALLOW_TARGETS": ("allow_targets", _endpoints),
    "VERITAS_RESOLVE_TIMEOUT": ("resolve_timeout", float),
    "VERITAS_MAX_BODY_BYTES": ("max_body_bytes", int),
    "VERITAS_MAX_URL_LENGTH": ("max_url_length", int),
    "VERITAS_BODY_TIMEOUT": ("body_timeout", float),
    "VERITAS_HEADER_TIMEOUT": ("header_timeout", float),
    "VERITAS_IDLE_TIMEOUT": ("idle_timeout", float),
    "VERITAS_MAX_CONNECTIONS": ("max_connections", int),
    "VERITAS_LISTEN_BACKLOG": ("listen_backlog", int),
    "VERITAS_SSE_PING": ("ping_interval", float),
    "VERITAS_SLOW_SUBSCRIBER_DEADLINE": ("slow_subscriber_deadline", float),
    "VERITAS_SSE_RETRY_MS": ("retry_ms", int),
    "VERITAS_SSE_RETRY_JITTER_MS": ("retry_jitter_ms", int),
    "VERITAS_MAX_LOG_EVENTS": ("max_log_events", int),
    "VERITAS_MAX_LOG_BYTES": ("max_log_bytes", int),
    "VERITAS_MAX_FINISHED_LOGS": ("max_finished_logs", int),
    "VERITAS_STORE_BATCH_MS": ("store_batch_ms", float),
    "VERITAS_STORE_BATCH_EVENTS": ("store_batch_events", int),
    "VERITAS_STORE_MAX_PENDING_BYTES": ("store_max_pending_bytes", int),
    "VERITAS_STORE_SYNCHRONOUS": ("store_synchronous", lambda s: s.strip().upper()),
    "VERITAS_DURABLE_VISIBILITY": ("durable_visibility", _flag),
    "VERITAS_RETENTION_MAX_AUDITS": ("retention_max_audits", int),
    "VERITAS_RETENTION_MAX_AGE_DAYS": ("retention_max_age_days", float),
    "VERITAS_RETENTION_INTERVAL": ("retention_interval", float),
    "VERITAS_SHUTDOWN_TIMEOUT": ("shutdown_timeout", float),
    "VERITAS_API_TOKEN": ("api_token", _token),
    "VERITAS_CORS_ORIGINS": ("cors_origins", _origins),
    "VERITAS_LOG_FORMAT": ("log_format", lambda s: s.strip().lower()),
    "VERITAS_LOG_LEVEL": ("log_level", lambda s: s.strip().upper()),
    "VERITAS_LOOP": ("event_loop", lambda s: s.strip().lower()),
}


def from_environment(environ: Mapping[str, str], **overrides: Any) -> ServerConfig:
    """Defaults, then `VERITAS_*` variables, then `overrides` (the CLI flags)."""
    values: dict[str, Any] = {}
    for name, (attr, parse) in ENVIRONMENT.items():
        if name in environ:
            values[attr] = _parse(name, environ[name], parse)
    tiers = dict(DEFAULT_TIER_SECONDS)
    for tier in TIERS:
        name = f"VERITAS_TIME_{tier.upper()}"
        if name in environ:
            tiers[tier] = _parse(name, environ[name], float)
    values["tier_seconds"] = tiers
    values.update(overrides)
    known = {f.name for f in fields(ServerConfig)}
    unknown = set(values) - known
    if unknown:
        raise TypeError(f"unknown configuration fields: {', '.join(sorted(unknown))}")
    return replace(ServerConfig(), **values)


def _parse(name: str, text: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: cannot read {text!r}: {exc}") from exc


def from_command_line(argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
    parser = argparse.ArgumentParser(
        prog="python -m server", description="The Veritas audit service."
    )
    parser.add_argument("--host", help="address to listen on (VERITAS_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (VERITAS_PORT)")
    parser.add_argument(
        "--data-dir", help="folder for the audit database (VERITAS_DATA_DIR); '' for none"
    )
    parser.add_argument("--version", action="version", version=f"veritas-server {_version()}")
    parser.add_argument(
        "--store", help="redis://HOST:PORT/DB to share audits between instances (VERITAS_STORE)"
    )
    parser.add_argument(
        "--loop", choices=EVENT_LOOPS, help="the event loop (VERITAS_LOOP); default asyncio"
    )
    parser.add_argument(
        "--on-lost",
        choices=ON_LOST,
        help="with --store: a running audit whose instance went silent ends (interrupted, the"
        " default) or runs again on any instance (requeue) (VERITAS_ON_LOST)",
    )
    args = parser.parse_args(argv)
    flags: dict[str, Any] = {}
    if args.on_lost is not None:
        flags["on_lost"] = args.on_lost
    if args.loop is not None:
        flags["event_loop"] = args.loop
    if args.host is not None:
        flags["host"] = args.host
    if args.port is not None:
        flags["port"] = args.port
    if args.data_dir is not None:
        flags["data_dir"] = _data_dir(args.data_dir)
    if args.store is not None:
        flags["store_url"] = args.store.strip() or None
    return from_environment(environ, **flags)


def _version() -> str:
    try:
        return importlib.metadata.version("veritas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
