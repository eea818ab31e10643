"""One deep audit's browser work: pages rendered behind the guard, analysed, photographed.

    summary = await render_pages(pages, resolver, settings, emitter, add_finding, known, deadline)

Holds a browser slot, runs the guarded proxy, starts Chromium in the auditor's process
group and drives it with Playwright. Each page gets a fresh browser context, and a second
fresh one when it shows a moving countdown. Findings are handed to `add_finding` as they
are made and screenshots leave as `screenshot` events at once, so whatever was seen before
a crash, a hang or a limit is kept; the failure itself is raised as a `BrowserError`,
which the orchestrator turns into the phase's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from protocol.targets import Endpoint
from veritas.browser.activity import activity_findings
from veritas.browser.consent import consent_findings
from veritas.browser.driver import DRIVER_NODE_OPTIONS, node_options
from veritas.browser.errors import BrowserCrashed, BrowserLimit, BrowserUnavailable
from veritas.browser.launch import Chromium
from veritas.browser.probes import (
    ADDED_TEXTS,
    ELEMENT_BOX,
    READ_CONSENT,
    READ_TIMERS,
    RECORDER,
    SYNC_FORM_STATE,
)
from veritas.browser.proxy import GuardedProxy
from veritas.browser.rendered import Seen, rendered_findings, rendered_page
from veritas.browser.settings import BrowserSettings
from veritas.browser.shots import MIME, bounded_jpeg
from veritas.browser.slots import browser_slot
from veritas.browser.timers import Reading, evergreen_finding, fresh_match, moving, restarted
from veritas.emitter import Emitter
from veritas.finding import Finding
from veritas.page import Page
from veritas.resolver import GuardedResolver

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, FloatRect
    from playwright.async_api import Page as Tab

PING_TIMEOUT: Final = 3.0  # seconds a browser that missed a page deadline gets to answer
CLOSE_TIMEOUT: Final = 1.0  # a browser that cannot close in a second is killed

AddFinding = Callable[[Finding], None]


@dataclass(slots=True)
class DeepReport:
    pages: list[dict[str, Any]] = field(default_factory=list)
    findings: int = 0
    screenshots: int = 0
    screenshot_bytes: int = 0
    slot_wait: float = 0.0
    peak_rss: int = 0

    def summary(self, proxy: GuardedProxy | None) -> dict[str, Any]:
        stats = proxy.stats if proxy is not None else None
        return {
            "message": f"{len(self.pages)} pages rendered, {self.findings} findings,"
            f" {self.screenshots} screenshots",
            "pages": self.pages,
            "findings": self.findings,
            "screenshots": self.screenshots,
            "screenshot_bytes": self.screenshot_bytes,
            "slot_wait": round(self.slot_wait, 3),
            "browser_peak_rss": self.peak_rss,
            "requests": stats.requests if stats else 0,
            "refused": stats.refused if stats else 0,
            "bytes_received": stats.bytes_in if stats else 0,
            "refusals": [f"{r.target}: {r.reason}" for r in stats.refusals[:20]] if stats else [],
        }


class DeepSession:
    def __init__(
        self,
        settings: BrowserSettings,
        resolver: GuardedResolver,
        emitter: Emitter,
        add_finding: AddFinding,
        known: Iterable[Finding] = (),
        *,
        allow_targets: frozenset[Endpoint] = frozenset(),
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self.allow_targets = allow_targets
        self.emitter = emitter
        self._add_finding = add_finding
        self.seen = Seen(known)
        self.report = DeepReport()
        self.proxy: GuardedProxy | None = None
        self._chromium: Chromium | None = None
        self._over_memory = False

    async def run(self, pages: Sequence[Page], deadline: float) -> dict[str, Any]:
        """Render `pages` before the monotonic `deadline`; the phase summary, or BrowserError."""
        executable = self.settings.chromium_path()
        if executable is None:
            raise BrowserUnavailable("no Chromium binary (set VERITAS_CHROMIUM)")
        try:
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise BrowserUnavailable(
                "Playwright is not installed (pip install veritas[deep])"
            ) from exc
        limit = min(deadline, time.monotonic() + self.settings.timeout)
        try:
            async with asyncio.timeout(max(0.1, limit - time.monotonic())):
                await self._run(executable, async_playwright, pages)
        except TimeoutError:
            done = len(self.report.pages)
            raise BrowserLimit(
                f"time limit reached after {done} of {len(pages)} pages; kept what was rendered"
            ) from None
        finally:
            if self._chromium is not None:
                self.report.peak_rss = self._chromium.peak_rss
        return self.report.summary(self.proxy)

    async def _run(self, executable: str, playwright: Any, pages: Sequence[Page]) -> None:
        settings = self.settings
        async with browser_slot(settings.slot_dir, settings.max_browsers, settings.slot_wait) as w:
            self.report.slot_wait = w
            async with GuardedProxy(self.resolver, settings, self.allow_targets) as proxy:
                self.proxy = proxy
                async with Chromium(executable, proxy.address, settings.viewport) as chromium:
                    self._chromium = chromium
                    async with contextlib.AsyncExitStack() as stack:
                        with node_options(DRIVER_NODE_OPTIONS):
                            driver = await stack.enter_async_context(playwright())
                        browser = await driver.chromium.connect_over_cdp(
                            chromium.endpoint, timeout=settings.page_timeout * 1000
                        )
                        await self._pages(browser, pages)

    async def _pages(self, browser: Browser, pages: Sequence[Page]) -> None:
        watch = asyncio.create_task(self._watch_memory())
        try:
            for number, raw in enumerate(pages, 1):
                await self._one_page(browser, raw, number)
        finally:
            watch.cancel()
            await asyncio.wait([watch])
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT)

    async def _watch_memory(self) -> None:
        chromium = self._chromium
        while chromium is not None:
            if chromium.rss() > self.settings.max_rss:
                self._over_memory = True
                chromium.kill()
                return
            await asyncio.sleep(self.settings.rss_poll)

    async def _one_page(self, browser: Browser, raw: Page, number: int) -> None:
        from playwright.async_api import Error as PlaywrightError

        summary: dict[str, Any] = {"url": raw.final_url}
        self.report.pages.append(summary)
        budget = self.settings.page_timeout + self.settings.timer_interval * 2 + 5
        try:
            async with asyncio.timeout(budget):
                await self._capture(browser, raw, number, summary)
        except (PlaywrightError, TimeoutError) as exc:
            await self._check_browser(browser, raw.final_url, exc)
            summary["error"] = _short(exc)
            self.emitter.log("browser", "warning", f"{raw.final_url}: not rendered: {_short(exc)}")

    async def _check_browser(self, browser: Browser, url: str, exc: Exception) -> None:
        """Raise when the failure was the browser's, not the page's."""
        chromium = self._chromium
        if self._over_memory:
            limit = self.settings.max_rss // (1024 * 1024)
            raise BrowserLimit(f"the browser used more than {limit} MiB rendering {url}") from exc
        status = chromium.exit_status if chromium is not None else None
        if status is not None or not browser.is_connected():
            raise BrowserCrashed(
                f"the browser exited (status {status}) while rendering {url}"
            ) from exc
        try:
            session = await asyncio.wait_for(browser.new_browser_cdp_session(), PING_TIMEOUT)
            await asyncio.wait_for(session.send("Browser.getVersion"), PING_TIMEOUT)
        except Exception as ping:  # a timeout or a closed connection alike
            if chromium is not None:
                chromium.kill()  # nothing more will come from it; closing politely would wait
            raise BrowserCrashed(f"the browser stopped answering while rendering {url}") from ping

    async def _context(self, browser: Browser) -> BrowserContext:
        width, height = self.settings.viewport
        context = await browser.new_context(
            service_workers="block",
            viewport={"width": width, "height": height},
            ignore_https_errors=True,  # the TLS module reports certificates; here: what shows
        )
        context.set_default_timeout(self.settings.page_timeout * 1000)
        return context

    async def _open(self, browser: Browser, url: str) -> tuple[BrowserContext, Tab, float]:
        context = await self._context(browser)
        await context.add_init_script(RECORDER % {"max": self.settings.max_texts})
        tab = await context.new_page()
        started = time.monotonic()
        await tab.goto(url, wait_until="load", timeout=self.settings.page_timeout * 1000)
        loaded = time.monotonic() - started
        await asyncio.sleep(self.settings.settle)
        return context, tab, loaded

    async def _capture(
        self, browser: Browser, raw: Page, number: int, summary: dict[str, Any]
    ) -> None:
        """One page in a fresh context; then, for a moving countdown, a second fresh visit
        (the first context is closed by then: one page in memory at a time)."""
        context, tab, loaded = await self._open(browser, raw.final_url)
        summary["load_seconds"] = round(loaded, 3)
        try:
            pairs = await self._read(context, tab, raw, number, summary)
        finally:
            await _close(context)
        await self._evergreen(browser, pairs, raw.final_url)

    async def _read(
        self, context: BrowserContext, tab: Tab, raw: Page, number: int, summary: dict[str, Any]
    ) -> list[tuple[Reading, Reading]]:
        url = raw.final_url
        first = await _timers(tab)
        cookies = [str(c.get("name")) for c in await context.cookies()]
        banner = await tab.evaluate(READ_CONSENT)
        await self._shoot(lambda q: tab.screenshot(type="jpeg", quality=q), f"page {number}", url)
        second = []
        if first:
            await asyncio.sleep(self.settings.timer_interval)
            second = await _timers(tab)
        texts = [str(t) for t in await tab.evaluate(ADDED_TEXTS)]
        summary.update(
            timers=[r.text for r in first], added_texts=len(texts), banner=banner is not None
        )
        for finding in activity_findings(texts, url):
            self._add(finding)
        consent = [f for f in consent_findings(banner, cookies, url) if self._add(f)]
        await tab.evaluate(SYNC_FORM_STATE)
        page = rendered_page(raw, await tab.content(), self.settings.max_html_bytes)
        for finding in rendered_findings(page, self.seen):
            self._emit_finding(finding)
        if consent and banner is not None:  # last: every finding of the page is out by now
            await self._shoot_element(tab, banner["path"], "consent banner", url)
        return moving(first, second)

    async def _evergreen(
        self, browser: Browser, pairs: list[tuple[Reading, Reading]], url: str
    ) -> None:
        if not pairs:
            return
        context, tab, _ = await self._open(browser, url)
        try:
            fresh = await _timers(tab)
            for pair in pairs:
                again = fresh_match(pair, fresh)
                if again is None or not restarted(pair[0], again):
                    continue
                if self._add(evergreen_finding(pair, again, url)):
                    await self._shoot_element(tab, again.path, "countdown timer", url)
        finally:
            await _close(context)

    def _add(self, finding: Finding) -> bool:
        if not self.seen.add(finding):
            return False
        self._emit_finding(finding)
        return True

    def _emit_finding(self, finding: Finding) -> None:
        self.report.findings += 1
        self._add_finding(finding)

    async def _shoot_element(self, tab: Tab, path: str, label: str, url: str) -> None:
        """The element's area of the viewport, with a margin. A clip of the page, not an
        element screenshot: a countdown re-rendered every second is replaced under any
        handle to it, and an element screenshot would wait for it to hold still."""
        box = await tab.evaluate(ELEMENT_BOX, path)
        if box is None:
            return
        clip: FloatRect = {"x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"]}
        await self._shoot(lambda q: tab.screenshot(type="jpeg", quality=q, clip=clip), label, url)

    async def _shoot(self, shoot: Callable[[int], Any], label: str, url: str) -> None:
        data = await bounded_jpeg(shoot, self.settings.screenshot_max_bytes)
        if data is None:
            limit = self.settings.screenshot_max_bytes
            self.emitter.log("browser", "warning", f"{label} of {url}: over {limit} bytes, dropped")
            return
        report = self.report
        report.screenshots += 1
        report.screenshot_bytes += len(data)
        self.emitter.emit(
            "screenshot", index=report.screenshots, label=label, url=url, mime=MIME, data=data
        )
        await self.emitter.drain()


async def _close(context: BrowserContext) -> None:
    with contextlib.suppress(Exception):  # a context that cannot close goes with its browser
        await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)


async def _timers(tab: Tab) -> list[Reading]:
    found = await tab.evaluate(READ_TIMERS)
    now = time.monotonic()
    return [Reading(str(item["path"]), str(item["text"]), now) for item in found]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


async def render_pages(
    pages: Sequence[Page],
    *,
    resolver: GuardedResolver,
    settings: BrowserSettings,
    emitter: Emitter,
    add_finding: AddFinding,
    known: Iterable[Finding],
    deadline: float,
    allow_targets: frozenset[Endpoint] = frozenset(),
) -> dict[str, Any]:
    """The deep tier's entry point: render the first HTML pages; the phase summary."""
    html = [p for p in pages if p.is_html][: settings.pages]
    session = DeepSession(
        settings, resolver, emitter, add_finding, known, allow_targets=allow_targets
    )
    return await session.run(html, deadline)
