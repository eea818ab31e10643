"""Screenshots of audits: the image bytes kept apart from the event log, which keeps a reference.

A worker's `screenshot` event carries the image itself (raw bytes over the pipe). Before
the event enters the log, `ScreenshotStore.keep` takes the bytes out and returns the event
the log and every SSE client get instead: `data` empty, plus `src`, the route that serves
the image (`/audits/{id}/screenshots/{index}`), and `bytes`, its size. So a stream carries
a few hundred bytes per screenshot, never megabytes of base64.

Kept in memory, bounded: bytes per image, images per audit, and bytes in all, with the
oldest audits' images dropped from memory first when the total is reached. With a data
directory, every kept image is also written to `screenshots/AUDIT_ID/INDEX.EXT` before its
event enters the log, so a stored event's `src` still answers after memory let it go or
after a restart; retention removes an audit's folder with the audit (`forget`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from protocol.events import Event, new_event

logger: Final = logging.getLogger("server.stores.screenshots")
MIB: Final = 1024 * 1024
IMAGE_MIME: Final = re.compile(r"image/(jpeg|png|webp)")
EXTENSIONS: Final = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MIMES: Final = {ext: mime for mime, ext in EXTENSIONS.items()}


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
    def __init__(
        self, limits: ScreenshotLimits | None = None, directory: Path | None = None
    ) -> None:
        self.limits = limits or ScreenshotLimits()
        self.directory = directory  # None: memory only
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
        """From memory only."""
        return self._audits.get(audit_id, {}).get(index)

    async def load(self, audit_id: str, index: int) -> Screenshot | None:
        """From memory, else from the data directory (off the event loop)."""
        shot = self.get(audit_id, index)
        if shot is None and self.directory is not None:
            shot = await asyncio.to_thread(self._read, audit_id, index)
        return shot

    def forget(self, audit_ids: Iterable[str]) -> None:
        """The images of audits that retention deleted, from memory and disk."""
        for audit_id in audit_ids:
            images = self._audits.pop(audit_id, {})
            self._total -= sum(len(s.data) for s in images.values())
            if self.directory is not None:
                shutil.rmtree(self.directory / audit_id, ignore_errors=True)

    def _read(self, audit_id: str, index: int) -> Screenshot | None:
        assert self.directory is not None
        for ext, mime in MIMES.items():
            try:
                data = (self.directory / audit_id / f"{index}.{ext}").read_bytes()
            except OSError:
                continue
            return Screenshot(mime, data[: self.limits.max_image_bytes])
        return None

    def _write(self, audit_id: str, index: int, shot: Screenshot) -> bool:
        if self.directory is None:
            return True
        folder = self.directory / audit_id
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index}.{EXTENSIONS[shot.mime]}").write_bytes(shot.data)
        except OSError as exc:
            logger.warning("screenshot %d of audit %s not written: %s", index, audit_id, exc)
            return False
        return True

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
        if refused or not self._write(audit_id, index, shot):
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
