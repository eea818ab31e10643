"""What a store's writer tells everyone waiting on it when it stops for good."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from server.stores.errors import StoreUnavailable
from server.stores.store import CommitListener


def tell_everyone(
    reason: str,
    listeners: Iterable[CommitListener | None],
    futures: Iterable[asyncio.Future[Any]],
) -> None:
    """Queued batches learn they will never be durable; awaited writes and flushes raise."""
    for listener in listeners:
        if listener is not None:
            listener.failed(reason)
    error = StoreUnavailable(reason)
    for future in futures:
        if not future.done():
            future.set_exception(error)
