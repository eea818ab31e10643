"""Fixtures of the deep tier's tests: the script-only site, a guarded resolver, one render call."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from protocol.events import Event
from protocol.targets import check_addresses
from tests.veritas.browser.site import WIDGETS, SiteState, serve_site
from veritas.browser import BrowserSettings, render_pages
from veritas.channel import Channel
from veritas.config import Limits
from veritas.emitter import Emitter
from veritas.fetch import Fetcher
from veritas.finding import Finding
from veritas.resolver import AddrInfo, GuardedResolver

ALLOWED = "allowed.test"  # the one name treated as public: it points at the test site
PRIVATE = "private.test"  # an ordinary name that resolves to a private address


async def lookup(host: str, port: int, family: socket.AddressFamily) -> list[AddrInfo]:
    """Test DNS: these names resolve to 127.0.0.1; every other name does not exist."""
    if host not in (ALLOWED, WIDGETS, PRIVATE):
        raise socket.gaierror(socket.EAI_NONAME, "unknown test name")
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def check(host: str, addresses: Sequence[str]) -> None:
    """The real rules for every name but ALLOWED and WIDGETS: the tests' opening in the guard."""
    if host not in (ALLOWED, WIDGETS):
        check_addresses(host, addresses)


@dataclass
class Rendered:
    summary: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def kinds(self, url_end: str = "") -> list[str]:
        return [f.pattern_type for f in self.findings if f.url.endswith(url_end)]

    def of(self, pattern_type: str) -> list[Finding]:
        return [f for f in self.findings if f.pattern_type == pattern_type]

    @property
    def screenshots(self) -> list[Event]:
        return [e for e in self.events if e.type == "screenshot"]


@dataclass
class DeepSite:
    state: SiteState
    port: int

    def url(self, path: str) -> str:
        return f"http://{ALLOWED}:{self.port}{path}"

    async def render(self, *paths: str, settings: BrowserSettings | None = None) -> Rendered:
        """Fetch the pages as the scout does, then render them as the deep tier does."""
        resolver = GuardedResolver(False, lookup, check)
        async with Fetcher(Limits(page_timeout=5), False, resolver) as fetcher:
            pages = [await fetcher.fetch(self.url(path)) for path in paths]
        rendered = Rendered({})
        emitter = Emitter(Channel(None, None, 1, Limits(), print), [rendered.events.append])
        rendered.summary = await render_pages(
            pages,
            resolver=resolver,
            settings=settings or BrowserSettings(pages=len(paths), timer_interval=1.2),
            emitter=emitter,
            add_finding=rendered.findings.append,
            known=(),
            deadline=time.monotonic() + 60,
        )
        return rendered


@pytest.fixture(scope="module")
def deep_site() -> Iterator[DeepSite]:
    state = SiteState()
    with serve_site(state) as port:
        yield DeepSite(state, port)
