"""The `redirect_chain` security module: hops, loops, host changes, downgrades, shorteners."""

from __future__ import annotations

import itertools

from veritas.analysis.domain import host_of, registrable_domain
from veritas.analysis.lexicon import SHORTENERS, TRACKERS
from veritas.analysis.result import ModuleResult, score_from
from veritas.finding import Finding, Severity
from veritas.page import Page, Site

MANY_HOPS = 4
TOO_MANY_HOPS = 7


def chain_of(page: Page) -> list[str]:
    return [hop.url for hop in page.redirects] + [page.final_url]


def redirect_chain(site: Site) -> ModuleResult:
    page = site.entry
    urls = chain_of(page)
    findings = tuple(chain_findings(urls, page.final_url))
    domains = [registrable_domain(host_of(u)) for u in urls]
    details = {
        "hops": len(urls) - 1,
        "chain": [
            {"url": h.url, "status": h.status, "location": h.location} for h in page.redirects
        ]
        + [{"url": page.final_url, "status": page.status, "location": None}],
        "domains": list(dict.fromkeys(domains)),
    }
    return ModuleResult("redirect_chain", score_from(findings), findings, details)


def chain_findings(urls: list[str], where: str) -> list[Finding]:
    findings: list[Finding] = []
    hops = len(urls) - 1
    shown = " -> ".join(urls)
    if hops >= MANY_HOPS:
        severity: Severity = "medium" if hops >= TOO_MANY_HOPS else "low"
        findings.append(
            _f(
                "long_redirect_chain",
                severity,
                f"{hops} redirects before the page.",
                "The site bounces you through many addresses before showing anything.",
                shown,
                where,
            )
        )
    if len(set(urls)) < len(urls):
        findings.append(
            _f(
                "redirect_loop",
                "medium",
                "The chain visits the same URL twice.",
                "The site sends you round in circles.",
                shown,
                where,
            )
        )
    for before, after in itertools.pairwise(urls):
        findings.extend(_hop(before, after, where))
    return findings


def _hop(before: str, after: str, where: str) -> list[Finding]:
    found = []
    hop = f"{before} -> {after}"
    if before.startswith("https:") and after.startswith("http:"):
        found.append(
            _f(
                "https_downgrade",
                "high",
                "A redirect leaves https for plain http.",
                "The site drops you from a secure connection to an insecure one.",
                hop,
                where,
            )
        )
    old, new = registrable_domain(host_of(before)), registrable_domain(host_of(after))
    if old != new:
        found.append(
            _f(
                "cross_domain_redirect",
                "info",
                f"Redirect from {old} to {new}.",
                "The address you asked for sends you to a different website.",
                hop,
                where,
            )
        )
    host = host_of(before)
    if old in SHORTENERS or host in SHORTENERS:
        found.append(
            _f(
                "shortener_hop",
                "low",
                f"The chain passes through the URL shortener {host}, which hides the destination.",
                "A link shortener hid where this link really goes.",
                hop,
                where,
            )
        )
    elif old in TRACKERS or host in TRACKERS:
        found.append(
            _f(
                "tracking_hop",
                "info",
                f"The chain passes through the click tracker {host}.",
                "Your visit was counted by a tracking service on the way.",
                hop,
                where,
            )
        )
    return found


# Positional, in the order of Finding's own fields, so each check reads as one line.
def _f(kind: str, severity: Severity, desc: str, plain: str, evidence: str, url: str) -> Finding:  # noqa: PLR0917
    return Finding("security", kind, severity, 0.9, desc, plain, evidence, url)
