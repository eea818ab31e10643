"""What the fetcher records about one fetched resource, and what every analyser reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """The TLS session and peer certificate of an https fetch.

    The fetcher records the certificate even when verification failed, so that analysers
    can say *why* it failed (self-signed, expired, wrong host) instead of only that it did.
    """

    version: str | None  # "TLSv1.3"
    cipher: str | None
    subject: dict[str, str]  # {"commonName": "...", "organizationName": "..."}
    issuer: dict[str, str]
    not_before: float | None  # Unix seconds
    not_after: float | None
    san: tuple[str, ...]  # DNS names of subjectAltName
    self_signed: bool
    hostname_matches: bool
    verify_error: str | None  # None when the chain verified against the system store


@dataclass(frozen=True, slots=True)
class Hop:
    """One response of a redirect chain, in the order the fetcher followed them."""

    url: str
    status: int
    location: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched resource (an HTML page or a script), final response of its redirect chain."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]  # in arrival order; repeated names kept (Set-Cookie)
    body: bytes  # decompressed, at most the per-page limit
    truncated: bool  # the body hit the per-page limit
    redirects: tuple[Hop, ...] = ()  # every 3xx hop before the final response
    tls: TlsInfo | None = None  # None for plain http
    ip: str | None = None  # the address actually connected to
    elapsed: float = 0.0  # seconds from first request to last byte
    errors: tuple[str, ...] = field(default=())  # limits hit, decoding trouble

    def header(self, name: str) -> str | None:
        """The first value of a header, matched case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]

    @property
    def content_type(self) -> str:
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml", "")

    @property
    def text(self) -> str:
        """The body as text: charset from Content-Type, else UTF-8, never raising."""
        charset = "utf-8"
        for part in (self.header("content-type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Site:
    """Everything the scout fetched for one audit: the entry page first, then same-site pages."""

    pages: tuple[Page, ...]
    scripts: tuple[Page, ...] = ()  # same-site external scripts, within the page budget
    # For the header grade: http://host/ when the audit began on https, and a CORS
    # preflight of the entry page's final URL; None when not fetched.
    http: Page | None = None
    cors: Page | None = None

    @property
    def entry(self) -> Page:
        return self.pages[0]

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)
