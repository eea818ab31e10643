"""The deep tier's limits: one frozen `BrowserSettings`, from `VERITAS_*` variables, checked once.

VERITAS_MAX_BROWSERS             browsers running at once on this machine (1)
VERITAS_CHROMIUM                 the Chromium binary (Debian's, else `chromium` on PATH)
VERITAS_BROWSER_PAGES            pages rendered per deep audit (3)
VERITAS_BROWSER_PAGE_TIMEOUT     seconds for one page to load (15)
VERITAS_BROWSER_TIMEOUT          seconds for the whole rendered part of an audit (60)
VERITAS_BROWSER_SLOT_WAIT        seconds an audit waits for a free browser slot (30)
VERITAS_BROWSER_MAX_REQUESTS     requests the browser may make per audit (400)
VERITAS_BROWSER_MAX_BYTES        bytes it may receive through the proxy per audit (32 MiB)
VERITAS_BROWSER_MAX_RSS          resident memory of the browser's processes (768 MiB, PSS)
VERITAS_SCREENSHOT_MAX_BYTES     bytes of one JPEG screenshot (256 KiB)
VERITAS_TIMER_INTERVAL           real seconds between two readings of a countdown (1.5)
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

from veritas.errors import UsageError

MIB: Final = 1024 * 1024
# Debian's binary first, then its wrapper script; never a browser downloaded by Playwright.
CHROMIUM_PATHS: Final = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    max_browsers: int = 1
    chromium: str = ""  # "": found on first use
    pages: int = 3
    page_timeout: float = 15.0
    timeout: float = 60.0
    slot_wait: float = 30.0
    max_requests: int = 400
    max_bytes: int = 32 * MIB
    max_rss: int = 768 * MIB
    screenshot_max_bytes: int = 256 * 1024
    timer_interval: float = 1.5
    # fixed bounds, not worth a variable
    connect_timeout: float = 10.0
    max_request_head: int = 16 * 1024  # bytes of one request line and its headers
    max_hosts: int = 64  # distinct hosts the proxy resolves for one audit
    max_refusals: int = 200  # refusals kept for the report (all are counted)
    max_texts: int = 200  # texts the activity recorder keeps
    max_html_bytes: int = 2 * MIB  # rendered DOM handed to the analysers
    viewport: tuple[int, int] = (1280, 800)
    settle: float = 0.3  # seconds after `load` for scripts that run on a timer
    rss_poll: float = 0.25

    def chromium_path(self) -> str | None:
        candidates = (self.chromium,) if self.chromium else CHROMIUM_PATHS
        for candidate in candidates:
            if os.access(candidate, os.X_OK):
                return candidate
        return shutil.which("chromium") if not self.chromium else None

    @property
    def slot_dir(self) -> Path:
        return Path(tempfile.gettempdir()) / f"veritas-browsers-{os.getuid()}"


_VARIABLES: Final = {
    "max_browsers": "VERITAS_MAX_BROWSERS",
    "pages": "VERITAS_BROWSER_PAGES",
    "page_timeout": "VERITAS_BROWSER_PAGE_TIMEOUT",
    "timeout": "VERITAS_BROWSER_TIMEOUT",
    "slot_wait": "VERITAS_BROWSER_SLOT_WAIT",
    "max_requests": "VERITAS_BROWSER_MAX_REQUESTS",
    "max_bytes": "VERITAS_BROWSER_MAX_BYTES",
    "max_rss": "VERITAS_BROWSER_MAX_RSS",
    "screenshot_max_bytes": "VERITAS_SCREENSHOT_MAX_BYTES",
    "timer_interval": "VERITAS_TIMER_INTERVAL",
}


def load_settings(environ: Mapping[str, str]) -> BrowserSettings:
    """`BrowserSettings` with every variable that is set applied; `UsageError` when one is bad."""
    kinds = {f.name: f.type for f in fields(BrowserSettings)}
    values: dict[str, object] = {}
    for name, variable in _VARIABLES.items():
        text = environ.get(variable, "").strip()
        if text:
            values[name] = _positive(variable, text, float if kinds[name] == "float" else int)
    chromium = environ.get("VERITAS_CHROMIUM", "").strip()
    return BrowserSettings(chromium=chromium, **values)  # type: ignore[arg-type]


def _positive(name: str, text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{name} must be a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive number, got {text!r}")
    return value
