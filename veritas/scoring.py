"""The verdict: evidence from every phase -> trust score, risk level and the words that explain it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from veritas.analysis import IntelReport, ModuleResult, SiteType
from veritas.finding import Finding

VerdictMode = Literal["simple", "expert"]


@dataclass(frozen=True, slots=True)
class Evidence:
    security: Sequence[ModuleResult]
    findings: Sequence[Finding]  # every finding of every phase, security ones included
    site_type: SiteType
    intel: IntelReport
    pages_scanned: int
    errors: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    trust_score: int
    risk_level: str
    signal_scores: dict[str, int]
    narrative: str
    recommendations: list[str]
    caps: list[dict[str, Any]] = field(default_factory=list)  # hard caps that applied

    def to_dict(self) -> dict[str, Any]:
        return {
            "trust_score": self.trust_score,
            "risk_level": self.risk_level,
            "signal_scores": self.signal_scores,
            "narrative": self.narrative,
            "recommendations": self.recommendations,
            "caps": self.caps,
        }


def risk_level(score: int) -> str:
    if score >= 90:
        return "trusted"
    if score >= 70:
        return "probably_safe"
    if score >= 40:
        return "suspicious"
    if score >= 20:
        return "high_risk"
    return "likely_fraudulent"


def judge(evidence: Evidence, mode: VerdictMode) -> Verdict:
    scores = [m.score for m in evidence.security] or [50]
    score = round(sum(scores) / len(scores))
    return Verdict(
        trust_score=score,
        risk_level=risk_level(score),
        signal_scores={"security": score},
        narrative=f"{evidence.pages_scanned} page(s) scanned.",
        recommendations=[],
    )
