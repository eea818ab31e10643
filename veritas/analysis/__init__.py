"""The analysers: pure functions from fetched page data to findings.

This module is the one interface the orchestrator calls. Each phase has its entry point:

    security  SECURITY_MODULES[name](site) -> ModuleResult       (one module at a time)
    content   analyse_content(page) -> list[Finding]               (one page at a time)
              classify_site(site) -> SiteType
    intel     gather_intel(site, addresses) -> IntelReport
    judge     veritas.scoring.judge(evidence, verdict_mode) -> Verdict

Nothing here touches the network: the scout already fetched everything into a `Site`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veritas.finding import Finding
from veritas.page import Page, Site


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


SecurityModule = Callable[[Site], ModuleResult]


def _response_headers(site: Site) -> ModuleResult:
    entry = site.entry
    return ModuleResult(
        module="security_headers",
        score=100,
        details={"url": entry.final_url, "headers": dict(entry.headers)},
    )


SECURITY_MODULES: Mapping[str, SecurityModule] = {"security_headers": _response_headers}


def analyse_content(page: Page) -> list[Finding]:
    return []


def classify_site(site: Site) -> SiteType:
    return SiteType("other", 0.0)


def gather_intel(site: Site, addresses: Sequence[str]) -> IntelReport:
    return IntelReport(facts={"addresses": list(addresses)})
