"""What the Observatory looks at, built from what the scout fetched.

The Observatory reads five things: the final response to the site (`auto`), the https
response (for HSTS), the http redirect chain (for redirection), a CORS preflight, and the
HTML body (for `<meta>` policies and scripts). An `Exchange` holds our equivalent of each.

Headers are read the way Node.js hands them to the Observatory: a header sent several
times arrives as one value joined with ", " (Set-Cookie stays a list; Content-Type keeps its
first value). That is why a repeated HSTS, CORP, COOP or X-Frame-Options header is judged
invalid there, and here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from veritas.analysis.domain import host_of
from veritas.page import Page, Site

# The Origin of the CORS preflight: any origin the site cannot know shows reflection.
PREFLIGHT_ORIGIN = "https://cors-probe.veritas.invalid"
HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
_FIRST_VALUE_ONLY = frozenset(("content-type",))
CSP = "content-security-policy"
REFERRER = "referrer-policy"

Headers = tuple[tuple[str, str], ...]


def field(headers: Headers, name: str) -> str | None:
    """One header as Node.js presents it: repeated values joined by ", "."""
    wanted = name.lower()
    values = [v for k, v in headers if k.lower() == wanted]
    if not values:
        return None
    return values[0] if wanted in _FIRST_VALUE_ONLY else ", ".join(values)


def field_list(headers: Headers, name: str) -> list[str]:
    """Every value of a header, each on its own (for Set-Cookie)."""
    wanted = name.lower()
    return [v for k, v in headers if k.lower() == wanted]


@dataclass(frozen=True, slots=True)
class Route:
    """The http chain: every URL visited from http://, the final one last."""

    urls: tuple[str, ...]
    verified: bool  # the final response's certificate chain verified (or plain http)


@dataclass(frozen=True, slots=True)
class Preflight:
    headers: Headers
    origin: str | None  # the Origin the preflight sent


@dataclass(frozen=True)
class Exchange:
    host: str  # the host the audit asked for: the Observatory's "site"
    url: str  # the final URL of the entry page: the Observatory's session URL
    headers: Headers  # the final response
    body: str
    https_headers: Headers | None  # None when the site did not answer over https
    https_verified: bool
    route: Route | None  # None when no http request was made
    cors: Preflight

    @classmethod
    def of(cls, site: Site) -> Exchange:
        entry = site.entry
        on_https = entry.final_url.startswith("https:")
        return cls(
            host=host_of(entry.url),
            url=entry.final_url,
            headers=entry.headers,
            body=entry.text,
            https_headers=entry.headers if on_https else None,
            https_verified=_verified(entry),
            route=_route(site),
            cors=_preflight(site),
        )

    def header(self, name: str) -> str | None:
        return field(self.headers, name)

    @property
    def secure(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def mime(self) -> str:
        return (self.header("content-type") or "").split(";")[0]

    @cached_property
    def equiv(self) -> dict[str, list[str]]:
        """The `<meta>` policies the Observatory reads: CSP (all of them) and referrer (last)."""
        if self.mime not in HTML_TYPES or not self.body:
            return {}
        return meta_policies(self.body)


def meta_policies(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {CSP: []}
    for meta in LexborHTMLParser(html).css("meta"):
        attrs = meta.attributes
        equiv, content, name = attrs.get("http-equiv"), attrs.get("content"), attrs.get("name")
        if "http-equiv" in attrs and "content" in attrs:
            if (equiv or "").strip().lower() == CSP:
                found[CSP].append(content or "")
        elif (name or "").strip().lower() == "referrer" and "content" in attrs:
            found[REFERRER] = [content or ""]
    return found


def _verified(page: Page) -> bool:
    return page.tls is None or page.tls.verify_error is None


def _route(site: Site) -> Route | None:
    chain = site.entry if site.entry.url.startswith("http:") else site.http
    if chain is None:
        return None
    urls = (*(h.url for h in chain.redirects), chain.final_url)
    return Route(urls if chain.redirects else (chain.url,), _verified(chain))


def _preflight(site: Site) -> Preflight:
    # Without a preflight the entry response is all there is, and no Origin was sent.
    if site.cors is None:
        return Preflight(site.entry.headers, None)
    return Preflight(site.cors.headers, PREFLIGHT_ORIGIN)
