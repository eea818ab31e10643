"""The analysers: pure functions from fetched page data to findings.

This module is the one interface the orchestrator calls. Each phase has its entry point:

    security  SECURITY_MODULES[name](site) -> ModuleResult       (one module at a time)
    content   analyse_content(page) -> list[Finding]               (one page at a time)
              iter_content(page) -> Iterator[Finding]              (the same, as found)
              site_content(site) -> list[Finding]                  (across pages: hidden fees)
              classify_site(site) -> SiteType
    intel     gather_intel(site, addresses) -> IntelReport
    judge     veritas.scoring.judge(evidence, verdict_mode) -> Verdict

Nothing here touches the network: the scout already fetched everything into a `Site`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from veritas.analysis.costs import hidden_fees
from veritas.analysis.darkpatterns import iter_findings as _dark_patterns
from veritas.analysis.forms import form_validation
from veritas.analysis.headers import security_headers
from veritas.analysis.intel import gather_intel
from veritas.analysis.phishing import phishing
from veritas.analysis.redirects import redirect_chain
from veritas.analysis.result import IntelReport, ModuleResult, SiteType
from veritas.analysis.scripts import js_analysis
from veritas.analysis.sitetype import classify_site
from veritas.analysis.tls import tls
from veritas.analysis.urls import UrlVerdict, analyse_url
from veritas.finding import Finding
from veritas.page import Page, Site

__all__ = [
    "SECURITY_MODULES",
    "IntelReport",
    "ModuleResult",
    "SecurityModule",
    "SiteType",
    "UrlVerdict",
    "analyse_content",
    "analyse_url",
    "classify_site",
    "gather_intel",
    "iter_content",
    "site_content",
]

SecurityModule = Callable[[Site], ModuleResult]

SECURITY_MODULES: Mapping[str, SecurityModule] = {
    "security_headers": security_headers,
    "tls": tls,
    "redirect_chain": redirect_chain,
    "form_validation": form_validation,
    "js_analysis": js_analysis,
    "phishing": phishing,
}


def iter_content(page: Page) -> Iterator[Finding]:
    """The content findings of one page, yielded one by one as the detector finds them."""
    yield from _dark_patterns(page)


def analyse_content(page: Page) -> list[Finding]:
    return list(iter_content(page))


def site_content(site: Site) -> list[Finding]:
    """Content findings that only several pages together show: fees added at checkout."""
    return hidden_fees(site)
