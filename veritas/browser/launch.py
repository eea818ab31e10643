"""The browser process: Debian's Chromium, started by the auditor, in the auditor's process group.

Playwright's own launcher starts the browser in a session of its own, where a SIGKILL to
the auditor's group would not reach it; so the auditor starts Chromium itself and
Playwright attaches over the DevTools protocol. Chromium's helpers (zygote, renderers,
GPU, network service) are its descendants and stay in the same group.

The flags close every way out but the proxy: names resolve to nothing (`MAP * ~NOTFOUND`,
but for the proxy's own address), loopback goes through the proxy like
everything else (`<-loopback>`), no QUIC, WebRTC may not send UDP outside the proxy, and
the background services that phone home are off. The DevTools port listens on loopback
only, which the page itself cannot reach since loopback goes through the guard.

The rest of the flags keep the process tree small (docs/benchmarks.md, "Deep audits", has
the measured effect of each): no startup window, no browser-UI pages, the network service
inside the browser process, one renderer for the pages, no software WebGL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

from veritas.browser.errors import BrowserCrashed, BrowserUnavailable

START_TIMEOUT: Final = 15.0  # seconds for Chromium to open its DevTools port
STOP_GRACE: Final = 2.0


# Features off: services that phone home, and the memory choices below.
DISABLED_FEATURES: Final = (
    "DnsOverHttps",
    "NetworkPrediction",
    "OptimizationHints",
    "MediaRouter",
    "Translate",
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
    "InterestFeedContentSuggestions",
    "PrivacySandboxSettings4",
    "SigninInterception",
    # The browser asks Google for the time; the proxy refuses it, but each try is counted
    # against the audit's request budget and listed among its refusals.
    "NetworkTimeServiceQuerying",
    # Every new window preloads the omnibox's popup pages, each in a renderer of its own
    # (about 40 MiB in all) that no headless page ever shows.
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
    # Site isolation puts every cross-site frame of a page in a renderer of its own, so a
    # shop with payment, video and review iframes costs a process per framed site. It
    # protects one site's data from another site's renderer; this browser holds no data
    # of anyone's (a fresh profile per audit, a fresh context per page, no logins), and
    # the guard does not rest on it (every request of every renderer goes through the
    # proxy), so one renderer for everything loses nothing and bounds memory per page.
    "IsolateOrigins",
    "site-per-process",
)


def chromium_flags(proxy: str, profile: Path, viewport: tuple[int, int]) -> list[str]:
    return _guard_flags(proxy, profile) + _memory_flags(viewport)


def _guard_flags(proxy: str, profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",  # no user namespaces in containers; the guard is the proxy, not this
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://{proxy}",
        "--proxy-bypass-list=<-loopback>",
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {proxy.rpartition(':')[0]}",
        "--disable-quic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-background-networking",
        "--disable-breakpad",
        "--disable-client-side-phishing-detection",
        "--disable-component-extensions-with-background-pages",
        "--metrics-recording-only",
        "--no-service-autorun",
        "--disable-search-engine-choice-screen",
        "--disable-component-update",
        "--disable-domain-reliability",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--disable-features={','.join(DISABLED_FEATURES)}",
        "--dns-prefetch-disable",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-pings",
        "--mute-audio",
        "--hide-scrollbars",
        "--password-store=basic",
        "--use-mock-keychain",
    ]


def _memory_flags(viewport: tuple[int, int]) -> list[str]:
    width, height = viewport
    return [
        # No first tab: each page gets its own context and tab, and an idle about:blank
        # would hold a renderer for the whole audit.
        "--no-startup-window",
        # The network service in the browser process rather than a utility process of its
        # own. Its crash would take the browser down with it, which for one audit's browser
        # is the same outcome: the audit ends with a phase error either way.
        "--enable-features=NetworkServiceInProcess2",
        # With site isolation off (DISABLED_FEATURES), one renderer serves the page and its
        # frames; the limit holds it there rather than leaving it to Chromium's heuristics.
        "--renderer-process-limit=1",
        "--disable-site-isolation-trials",
        # No software WebGL (SwiftShader) in the GPU process: with no GPU it is the only
        # WebGL there is, and it costs that process 15-20 MiB. A 3D viewer then shows an
        # empty canvas in a screenshot; nothing the deep tier reads is drawn with WebGL,
        # and an unsandboxed browser is better without that much code reachable by pages.
        "--disable-software-rasterizer",
        f"--window-size={width},{height}",
    ]


class Chromium:
    """One Chromium for one deep audit: `async with Chromium(...) as browser: browser.endpoint`."""

    def __init__(self, executable: str, proxy: str, viewport: tuple[int, int]) -> None:
        self.executable = executable
        self.proxy = proxy
        self.viewport = viewport
        self.endpoint = ""  # the DevTools WebSocket URL, once started
        self.peak_rss = 0
        self._process: asyncio.subprocess.Process | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("Chromium is not running")
        return self._process.pid

    @property
    def exit_status(self) -> int | None:
        return None if self._process is None else self._process.returncode

    async def __aenter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="veritas-chromium-")
        profile = Path(self._profile.name)
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.executable,
                *chromium_flags(self.proxy, profile, self.viewport),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,  # chatty; the exit status says enough
                preexec_fn=_die_with_auditor(),
            )
        except OSError as exc:
            self._profile.cleanup()
            raise BrowserUnavailable(f"Chromium cannot be started: {exc}") from exc
        try:
            self.endpoint = await self._wait_endpoint(profile / "DevToolsActivePort")
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _wait_endpoint(self, port_file: Path) -> str:
        """Chromium writes its DevTools port and path to the profile once it listens."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.exit_status is not None:
                raise BrowserCrashed(f"Chromium exited at start with status {self.exit_status}")
            with contextlib.suppress(OSError, ValueError):
                port, path = _read(port_file).split()[:2]
                return f"ws://127.0.0.1:{port}{path}"
            await asyncio.sleep(0.05)
        raise BrowserCrashed(f"Chromium did not open its DevTools port within {START_TIMEOUT:g} s")

    def rss(self) -> int:
        """Resident bytes (PSS) of Chromium and its descendants, now; also updates `peak_rss`."""
        if self._process is None or self._process.returncode is not None:
            return 0
        total = sum(pss_bytes(pid) for pid in descendants(self._process.pid))
        self.peak_rss = max(self.peak_rss, total)
        return total

    async def stop(self) -> None:
        """SIGTERM, a short grace, then SIGKILL to whatever of the tree is left."""
        process = self._process
        if process is not None and process.returncode is None:
            tree = descendants(process.pid)
            with contextlib.suppress(ProcessLookupError):
                # Not Process.send_signal: its poll could reap the browser behind the loop.
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            for pid in tree:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            await process.wait()
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def kill(self) -> None:
        """Now, without waiting: the memory guard's last word."""
        if self._process is not None and self._process.returncode is None:
            for pid in descendants(self._process.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def _read(path: Path) -> str:
    """A few bytes from a local file: not worth a thread."""
    return path.read_text()


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def pss_bytes(pid: int) -> int:
    """Proportional resident bytes (PSS): shared pages split between their sharers, so the
    sum over Chromium's processes counts its shared libraries once, not once per process.
    0 for a process that is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        return 0
    return 0


_PR_SET_PDEATHSIG: Final = 1


def _die_with_auditor() -> Callable[[], None] | None:
    """Between fork and exec: the kernel SIGKILLs Chromium when the auditor dies, however it
    dies (the server's own death signal kills the auditor alone, not its group). Its helper
    processes end when the browser process does. None where there is no `prctl`."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    auditor = os.getpid()

    def arm() -> None:  # in the child: no allocation-heavy work, no logging
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != auditor:  # the auditor died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm
