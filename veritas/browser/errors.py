"""The errors of the deep tier's browser.

    BrowserError            root: the rendered part of a deep audit could not be completed
    ├── BrowserUnavailable  no Chromium binary, no Playwright, or no browser slot in time
    ├── BrowserCrashed      the browser process died, or stopped answering, mid-audit
    └── BrowserLimit        a limit of the deep tier stopped it (time, memory)

Playwright's exceptions are translated into these in `veritas.browser.session`, with the
original kept as `__cause__`. The proxy never raises for a refused request: it answers
403 and records why (`veritas.browser.proxy.Refusal`).
"""

from __future__ import annotations

from veritas.errors import VeritasError


class BrowserError(VeritasError):
    """The rendered part of a deep audit failed; the message says where and why."""


class BrowserUnavailable(BrowserError):
    pass


class BrowserCrashed(BrowserError):
    pass


class BrowserLimit(BrowserError):
    pass
