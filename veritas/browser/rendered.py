"""The rendered DOM through the existing analysers, without repeating what the raw HTML showed.

A finding from the rendered page is new only when no finding already made (raw pages,
the deep analysers) has the same kind, page and evidence, compared with whitespace and
case folded: the same countdown text seen raw and rendered is one finding, not two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from veritas.analysis import iter_content
from veritas.finding import Finding
from veritas.page import Page

Key = tuple[str, str, str]


def finding_key(finding: Finding) -> Key:
    return (finding.pattern_type, finding.url, " ".join(finding.evidence.split()).lower())


class Seen:
    """The findings made so far, by `finding_key`."""

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        self._keys = {finding_key(f) for f in findings}

    def add(self, finding: Finding) -> bool:
        """True when the finding is new (and remembers it)."""
        key = finding_key(finding)
        if key in self._keys:
            return False
        self._keys.add(key)
        return True


def rendered_page(raw: Page, html: str, limit: int) -> Page:
    """The raw page with its body replaced by the serialised rendered DOM (UTF-8)."""
    body = html.encode("utf-8")
    return Page(
        url=raw.url,
        final_url=raw.final_url,
        status=raw.status,
        headers=(("content-type", "text/html; charset=utf-8"),),
        body=body[:limit],
        truncated=len(body) > limit,
        tls=raw.tls,
        ip=raw.ip,
    )


def rendered_findings(page: Page, seen: Seen) -> Iterator[Finding]:
    """The content findings of the rendered page that nothing has reported yet."""
    for finding in iter_content(page):
        if seen.add(finding):
            yield finding
