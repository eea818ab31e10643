"""What the scout fetches beyond the entry page: same-site links and scripts, in page order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urldefrag, urlsplit

from veritas.analysis.domain import same_site
from veritas.analysis.html import parse
from veritas.page import Page

# Links to these are downloads, not pages a visitor reads.
SKIPPED_SUFFIXES: Final = (
    ".pdf", ".zip", ".gz", ".tar", ".rar", ".7z", ".exe", ".dmg", ".iso", ".apk",
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".mp3", ".mp4", ".avi",
    ".mov", ".woff", ".woff2", ".ttf", ".css", ".js", ".json", ".xml",
)  # fmt: skip


def page_links(entry: Page, limit: int) -> list[str]:
    """Up to `limit` distinct same-site http(s) pages the entry page links to, in order."""
    if limit <= 0 or not entry.is_html:
        return []
    document = parse(entry.text, entry.final_url)
    seen = {_key(entry.url), _key(entry.final_url)}
    return _pick((link for link in document.links if _is_page(link)), entry, seen, limit)


def script_links(pages: Iterable[Page], entry: Page, limit: int) -> list[str]:
    """Up to `limit` distinct same-site external scripts of the given pages, in order."""
    if limit <= 0:
        return []
    sources = (
        script.src
        for page in pages
        if page.is_html
        for script in parse(page.text, page.final_url).scripts
        if script.src
    )
    return _pick(sources, entry, set(), limit)


def _pick(urls: Iterable[str], entry: Page, seen: set[str], limit: int) -> list[str]:
    picked: list[str] = []
    for url in urls:
        key = _key(url)
        if key in seen or not url.startswith(("http://", "https://")):
            continue
        if not same_site(url, entry.final_url):
            continue
        seen.add(key)
        picked.append(key)
        if len(picked) == limit:
            break
    return picked


def _key(url: str) -> str:
    return urldefrag(url).url


def _is_page(url: str) -> bool:
    try:
        path = urlsplit(url).path.lower()
    except ValueError:
        return False
    return not path.endswith(SKIPPED_SUFFIXES)
