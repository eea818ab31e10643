"""Activity notifications: "Emma from Leeds just bought this" toasts that script puts in.

The recorder (`probes.RECORDER`) keeps the text of every node added after the parser was
done; the dark-pattern detector tells which of those texts claim other shoppers' activity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from veritas.analysis.darkpatterns import rule_hits
from veritas.finding import Finding

MAX_FINDINGS: Final = 5  # one page's toasts rotate through the same few templates


def activity_findings(texts: Iterable[str], url: str) -> Iterator[Finding]:
    count = 0
    for text in texts:
        if count >= MAX_FINDINGS:
            return
        if any(rule.pattern_type == "activity_notification" for rule in rule_hits(text)):
            count += 1
            yield Finding(
                category="dark_pattern",
                pattern_type="activity_notification",
                severity="medium",
                confidence=0.85,
                description="Social proof: a notification of other shoppers' activity inserted"
                f" by script after the page loaded: \u201c{text[:200]}\u201d",
                plain_english="The page pops up claims about other shoppers that it makes up"
                " in your browser; you cannot verify them.",
                evidence=text[:300],
                url=url,
            )
