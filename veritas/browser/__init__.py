"""The deep tier: pages rendered in a real headless Chromium, reachable only through the guard.

    summary = await render_pages(pages, resolver, load_settings(os.environ), emitter,
                                 add_finding, known_findings, deadline)

Modules: `settings` (limits), `slots` (the machine's browser budget), `proxy` (the guarded
forward proxy), `launch` (the Chromium process), `probes` (scripts run in pages), the
analysers `timers`, `activity`, `consent`, `rendered`, `shots` (bounded JPEG) and
`driver` (Playwright's Node.js options), `session` (one audit's browser work, the entry point).
"""

from veritas.browser.errors import BrowserError
from veritas.browser.session import render_pages
from veritas.browser.settings import BrowserSettings, load_settings

__all__ = ["BrowserError", "BrowserSettings", "load_settings", "render_pages"]
