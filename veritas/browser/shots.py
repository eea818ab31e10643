"""Screenshots as bounded JPEG: the quality steps down until the image fits the byte limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

QUALITIES: Final = (70, 50, 35, 20)
MIME: Final = "image/jpeg"

Shoot = Callable[[int], Awaitable[bytes]]  # quality -> JPEG bytes


async def bounded_jpeg(shoot: Shoot, max_bytes: int) -> bytes | None:
    """The best quality that fits in `max_bytes`; None when even the lowest does not."""
    for quality in QUALITIES:
        data = await shoot(quality)
        if len(data) <= max_bytes:
            return data
    return None
