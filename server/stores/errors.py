"""The errors of the stores.

StoreError          the data directory cannot be used, or a write to it failed
├── StoreRefused    a value cannot be stored as given (text that is not valid Unicode)
└── StoreUnavailable  the store's writer has stopped: nothing more can be made durable
"""

from __future__ import annotations

from server.errors import ServerError


class StoreError(ServerError):
    """The data directory cannot be used, or a write to it failed."""


class StoreRefused(StoreError):
    """A value cannot be stored as given; the store itself is fine."""


class StoreUnavailable(StoreError):
    """The writer has failed and stopped; the service must say so (health, 503)."""
