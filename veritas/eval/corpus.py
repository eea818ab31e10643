"""Saved real pages as the auditor would have fetched them: the manifest and its pages.

Only the HTML was saved. Every page gets the same ordinary response headers and a valid
certificate for its host, so what is measured is what the page itself says.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from veritas.page import Page, TlsInfo

# What an ordinary, reasonably kept site sends (no strict CSP: most real sites have none).
ORDINARY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
ADDRESS = "203.0.113.10"  # a documentation address: no page is judged by where it is hosted
_DAY = 86400.0
_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([\w-]+)", re.IGNORECASE)
_CLAIM = re.compile(r"^(\w+):\s*'(.+)'")


@dataclass(frozen=True, slots=True)
class Claim:
    """A pressure claim a person found on a page: `pattern: 'text' (site)`."""

    pattern: str
    text: str


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    file: Path
    label: str  # legit / phish
    kind: str
    url: str
    expect_site_type: str
    claims: tuple[Claim, ...]
    sha256: str

    def body(self) -> bytes:
        return gzip.decompress(self.file.read_bytes())


def load_manifest(path: Path) -> list[Entry]:
    entries = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            claims = tuple(
                Claim(m.group(1), m.group(2))
                for text in row.get("pressure_claims") or ()
                if (m := _CLAIM.match(text))
            )
            entries.append(
                Entry(
                    id=row["id"],
                    file=path.parent / row["file"],
                    label=row["label"],
                    kind=row["kind"],
                    url=row["url"],
                    expect_site_type=row.get("expect_site_type", ""),
                    claims=claims,
                    sha256=row.get("sha256", ""),
                )
            )
    return entries


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served_page(url: str, body: bytes, now: float | None = None) -> Page:
    """The page as the fetcher would record it from an ordinary https server."""
    match = _CHARSET.search(body[:4096])
    charset = match.group(1).decode("ascii").lower() if match else "utf-8"
    host = urlsplit(url).hostname or "localhost"
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", f"text/html; charset={charset}"), *ORDINARY_HEADERS),
        body=body,
        truncated=False,
        tls=valid_certificate(host, time.time() if now is None else now),
        ip=ADDRESS,
    )


def valid_certificate(host: str, now: float) -> TlsInfo:
    return TlsInfo(
        version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        subject={"commonName": host},
        issuer={"organizationName": "Let's Encrypt", "commonName": "R11"},
        not_before=now - 30 * _DAY,
        not_after=now + 60 * _DAY,
        san=(host,),
        self_signed=False,
        hostname_matches=True,
        verify_error=None,
    )
