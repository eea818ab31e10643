"""Screenshots of audits: the image bytes kept apart from the event log, which keeps a reference.

A worker's `screenshot` event carries the image itself (raw bytes over the pipe). Before
the event enters the log, `ScreenshotStore.keep` takes the bytes out and returns the event
the log and every SSE client get instead: `data` empty, plus `src`, the route that serves
the image (`/audits/{id}/screenshots/{index}`), and `bytes`, its size. So a stream carries
a few hundred bytes per screenshot, never megabytes of base64.

Kept in memory, bounded: bytes per image, images per audit, and bytes in all, with the
oldest audits' images dropped first when the total is reached. Images are not written to
the data directory: after a restart a stored event's `src` answers 404.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from protocol.events import Event, new_event

MIB: Final = 1024 * 1024
IMAGE_MIME: Final = re.compile(r"image/(jpeg|png|webp)")


@dataclass(frozen=True, slots=True)
class ScreenshotLimits:
    max_image_bytes: int = 2 * MIB
    max_per_audit: int = 64
    max_total_bytes: int = 256 * MIB


@dataclass(frozen=True, slots=True)
class Screenshot:
    mime: str
    data: bytes


def screenshot_path(audit_id: str, index: int) -> str:
    return f"/audits/{audit_id}/screenshots/{index}"


class ScreenshotStore:
    def __init__(self, limits: ScreenshotLimits | None = None) -> None:
        self.limits = limits or ScreenshotLimits()
        self.dropped = 0  # images refused: wrong type, too big, too many, repeated index
        self._audits: OrderedDict[str, dict[int, Screenshot]] = OrderedDict()
        self._total = 0

    def keep(self, audit_id: str, event: Event) -> Event:
        """Store the image of a `screenshot` event; the event to log in its place."""
        data, index = event["data"], event["index"]
        kept = self._store(audit_id, index, Screenshot(str(event["mime"]), data))
        extra = {"src": screenshot_path(audit_id, index), "bytes": len(data)} if kept else {}
        fields = {k: v for k, v in event.fields.items() if k not in ("data", "src", "bytes")}
        return new_event("screenshot", event.seq, ts=event.ts, **{**fields, "data": b"", **extra})

    def get(self, audit_id: str, index: int) -> Screenshot | None:
        return self._audits.get(audit_id, {}).get(index)

    def _store(self, audit_id: str, index: int, shot: Screenshot) -> bool:
        limits = self.limits
        images = self._audits.setdefault(audit_id, {})
        self._audits.move_to_end(audit_id)
        refused = (
            not IMAGE_MIME.fullmatch(shot.mime)
            or not shot.data
            or len(shot.data) > limits.max_image_bytes
            or len(images) >= limits.max_per_audit
            or index in images
        )
        if refused:
            self.dropped += 1
            return False
        images[index] = shot
        self._total += len(shot.data)
        self._evict(audit_id)
        return True

    def _evict(self, current: str) -> None:
        while self._total > self.limits.max_total_bytes:
            oldest = next(iter(self._audits))
            if oldest == current:
                return  # one audit alone is under max_per_audit * max_image_bytes
            images = self._audits.pop(oldest)
            self._total -= sum(len(s.data) for s in images.values())
