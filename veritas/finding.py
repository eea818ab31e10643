"""A finding: one piece of evidence an analyser reports, as the `finding` event carries it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Finding:
    category: str  # "security", "dark_pattern", "phishing", "intel", ...
    pattern_type: str  # "missing_hsts", "fake_scarcity", "confirmshaming", ...
    severity: Severity
    confidence: float  # 0..1
    description: str  # expert wording
    plain_english: str  # what it means for a visitor
    evidence: str  # the quoted text, header or value that shows it
    url: str  # where it was seen

    @property
    def id(self) -> str:
        """Stable across runs, so the same evidence on the same page is the same finding."""
        key = "\0".join((self.category, self.pattern_type, self.url, self.evidence))
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "pattern_type": self.pattern_type,
            "severity": self.severity,
            "confidence": round(self.confidence, 3),
            "description": self.description,
            "plain_english": self.plain_english,
            "evidence": self.evidence,
            "url": self.url,
        }
