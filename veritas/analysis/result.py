"""What the analysers hand the orchestrator: module results, site type, intel, findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veritas.finding import Finding, Severity


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """What one security module concluded about the site."""

    module: str
    score: int  # 0..100, higher is safer
    findings: tuple[Finding, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `result` map of a `security_result` event."""
        return {
            **self.details,
            "score": self.score,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class SiteType:
    site_type: str  # ecommerce, login_financial, blog_content, saas, other
    confidence: float


@dataclass(frozen=True, slots=True)
class IntelReport:
    facts: Mapping[str, Any]
    findings: tuple[Finding, ...] = ()


# What each severity costs a 0..100 module score: one critical finding sinks a module.
SEVERITY_COST: Mapping[Severity, int] = {
    "info": 0,
    "low": 5,
    "medium": 15,
    "high": 35,
    "critical": 70,
}


def score_from(findings: tuple[Finding, ...] | list[Finding]) -> int:
    """A module score: 100 less the weighted cost of what it found, never below 0."""
    cost = sum(SEVERITY_COST[f.severity] * f.confidence for f in findings)
    return max(0, round(100 - cost))
