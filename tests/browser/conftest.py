"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a server, a slow site."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, async_playwright

from tests.clients.service import Service, run_service
from tests.clients.target import serve_target

# Debian's binary, then its wrapper script; never a browser downloaded by Playwright.
CHROMIUM_PATHS: Final = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
# Slow enough that an audit lasts a few seconds (pages at 0.6, 1.2, 1.8 and 2.4 s), with its
# events spread over them: "mid-audit" is a real moment.
PAGE_DELAY: Final = 0.6
REPO_ROOT: Final = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    configured = os.environ.get("VERITAS_CHROMIUM")
    candidates = (configured,) if configured else CHROMIUM_PATHS
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "Chromium is not installed (looked for "
        f"{', '.join(c for c in candidates if c)}). Install it with "
        "scripts/install-test-deps.sh (apt-get install -y chromium), "
        "or point VERITAS_CHROMIUM at a Chromium binary."
    )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def target() -> Iterator[str]:
    with serve_target(delay=PAGE_DELAY) as url:
        yield url


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with run_service(tmp_path / "server") as running:
        yield running


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go: $VERITAS_TEST_ARTIFACTS, else test-artifacts/ in the repository."""
    folder = Path(os.environ.get("VERITAS_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
