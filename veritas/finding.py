"""A finding: one piece of evidence an analyser reports, as the `finding` event carries it.

Also the two rules that keep an audit's findings honest and bounded: the same finding seen
on several pages is one finding that lists its pages (`merge_pages`), and no target can make
the auditor report more than a set number of findings per pattern or per audit
(`FindingBudget`), so no event and no `audit_result` can outgrow the protocol's frame limit.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
# Characters of each text field a finding carries: a target writes the evidence, so it is cut.
MAX_EVIDENCE_CHARS = 600
MAX_TEXT_CHARS = 1200
MAX_LISTED_PAGES = 20


@dataclass(frozen=True, slots=True)
class Finding:
    category: str  # "security", "dark_pattern", "phishing", "intel", ...
    pattern_type: str  # "missing_hsts", "fake_scarcity", "confirmshaming", ...
    severity: Severity
    confidence: float  # 0..1
    description: str  # expert wording
    plain_english: str  # what it means for a visitor
    evidence: str  # the quoted text, header or value that shows it
    url: str  # where it was seen (the first page, when it was seen on several)
    pages: tuple[str, ...] = ()  # every page it was seen on, when more than one

    @property
    def id(self) -> str:
        """Stable across runs, so the same evidence on the same page is the same finding."""
        key = "\0".join((self.category, self.pattern_type, self.url, self.evidence))
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two findings on different pages the same finding."""
        return (self.category, self.pattern_type, self.evidence)

    def to_dict(self) -> dict[str, Any]:
        found = {
            "id": self.id,
            "category": self.category,
            "pattern_type": self.pattern_type,
            "severity": self.severity,
            "confidence": round(self.confidence, 3),
            "description": _cut(self.description, MAX_TEXT_CHARS),
            "plain_english": _cut(self.plain_english, MAX_TEXT_CHARS),
            "evidence": _cut(self.evidence, MAX_EVIDENCE_CHARS),
            "url": _cut(self.url, MAX_TEXT_CHARS),
        }
        if self.pages:
            found["pages"] = [_cut(p, MAX_TEXT_CHARS) for p in self.pages[:MAX_LISTED_PAGES]]
        return found


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def merge_pages(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (category, pattern, evidence), listing every page it was seen on."""
    merged: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        first = merged.get(finding.key)
        if first is None:
            merged[finding.key] = finding
            continue
        pages = tuple(dict.fromkeys((*(first.pages or (first.url,)), *_pages(finding))))
        merged[finding.key] = replace(first, pages=pages)
    return list(merged.values())


def _pages(finding: Finding) -> tuple[str, ...]:
    return finding.pages or (finding.url,)


class FindingBudget:
    """How many findings an audit reports: at most `per_pattern` of one pattern type and
    `total` in all. What it refuses is counted by pattern type, never silently dropped."""

    def __init__(self, per_pattern: int, total: int) -> None:
        self.per_pattern = per_pattern
        self.total = total
        self.kept: Counter[str] = Counter()
        self.omitted: Counter[str] = Counter()

    def admit(self, finding: Finding) -> bool:
        kind = f"{finding.category}/{finding.pattern_type}"
        if self.kept[kind] >= self.per_pattern or self.kept.total() >= self.total:
            self.omitted[kind] += 1
            return False
        self.kept[kind] += 1
        return True

    @property
    def full(self) -> bool:
        return self.kept.total() >= self.total

    def report(self) -> dict[str, Any]:
        """The `findings_omitted` map of the result: how many, of which patterns, and why."""
        return {
            "total": self.omitted.total(),
            "by_pattern": dict(self.omitted.most_common(MAX_LISTED_PAGES)),
            "per_pattern_limit": self.per_pattern,
            "audit_limit": self.total,
        }
