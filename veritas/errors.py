"""The errors of the auditor process.

    VeritasError             root of everything the auditor raises on purpose
    ├── UsageError           bad command line or environment; exit status 2
    ├── AuditFailed          the audit cannot produce a result (target refused, entry page lost)
    └── FetchError           a resource could not be fetched (network, TLS, HTTP parsing)
        ├── RefusedTarget    the host is, or resolves to, a non-public address
        └── LimitExceeded    a fetch limit stopped it (redirects, header size, time)

Foreign exceptions (aiohttp, OSError, ssl) are translated into these in `veritas.fetch`,
at one boundary, with the original kept as `__cause__`.
"""

from __future__ import annotations


class VeritasError(Exception):
    """Root of every error the auditor raises on purpose."""


class UsageError(VeritasError):
    """The command line or a `VERITAS_*` variable is wrong; the message says how."""


class AuditFailed(VeritasError):
    """Raised by a phase when nothing can be judged; the message is the audit's error."""


class FetchError(VeritasError):
    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message


class RefusedTarget(FetchError):
    pass


class LimitExceeded(FetchError):
    pass
