"""History filters for `GET /audits`: `?url=` (that exact audited URL) and `?host=` (any page
of that host). The store lists audits newest first by pages; filtering walks those pages
and stops after `ServerConfig.history_scan_limit` audits, handing back a cursor to go on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from protocol import targets
from protocol.errors import TargetError
from server.errors import ApiError
from server.stores.store import AuditRecord, AuditStatus, Store

PAGE_SIZE: Final = 200
MAX_HOST_LENGTH: Final = 253


@dataclass(frozen=True, slots=True)
class Filter:
    url: str | None = None
    host: str | None = None

    def matches(self, record: AuditRecord) -> bool:
        if self.url is not None and record.url != self.url:
            return False
        return self.host is None or host_of(record.url) == self.host


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def read_filter(query: Mapping[str, str], max_url_length: int) -> Filter | None:
    """The filter the query asks for, or None; 400 naming the parameter when it is malformed."""
    url, host = query.get("url") or None, query.get("host") or None
    if url is None and host is None:
        return None
    return Filter(_url(url, max_url_length), _host(host))


def _url(text: str | None, max_length: int) -> str | None:
    if text is None:
        return None
    try:
        return targets.check_url(text, max_length).url
    except TargetError as exc:
        raise ApiError(400, "invalid", f"url must be an audited URL: {exc}", "url") from exc


def _host(text: str | None) -> str | None:
    if text is None:
        return None
    host = text.strip().rstrip(".").lower()
    if not host or len(host) > MAX_HOST_LENGTH or any(c in host for c in "/?#@ :"):
        raise ApiError(400, "invalid", "host must be a host name such as example.org", "host")
    return host


async def search(
    store: Store,
    wanted: Filter,
    *,
    status: AuditStatus | None,
    limit: int,
    before: str | None,
    scan_limit: int,
) -> tuple[list[AuditRecord], str | None]:
    """Up to `limit` matching audits, newest first, and the cursor for the next page (or None)."""
    found: list[AuditRecord] = []
    cursor, scanned = before, 0
    while len(found) < limit and scanned < scan_limit:
        asked = min(PAGE_SIZE, scan_limit - scanned)
        page = await store.list_audits(status=status, limit=asked, before=cursor)
        scanned += len(page)
        for record in page:
            cursor = record.id
            if wanted.matches(record):
                found.append(record)
                if len(found) == limit:
                    return found, record.id
        if len(page) < asked:
            return found, None  # the store has no more
    return found, cursor if scanned >= scan_limit else None
