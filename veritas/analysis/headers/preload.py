"""The Chromium HSTS preload list, offline, from the `hstspreload` package.

A host counts as preloaded when it is on the list in force-https mode, or a parent domain
is on it with includeSubDomains. Without the package no host counts as preloaded, and
`AVAILABLE` says so.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

try:
    from hstspreload import in_hsts_preload as _lookup

    AVAILABLE = True
except ImportError:  # an install without the package grades as if nothing were preloaded
    AVAILABLE = False


@lru_cache(maxsize=1024)
def is_preloaded(host: str) -> bool:
    host = host.strip().rstrip(".").lower()
    if not AVAILABLE or not host:
        return False
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    with warnings.catch_warnings():
        # The package reads its data with importlib.resources.open_binary, deprecated in 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(_lookup(ascii_host))
