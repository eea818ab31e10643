"""The `phishing` security module: URL signs of every fetched URL, and signs on the pages.

A page is called phishing (the finding that caps the trust score) only when signs agree:
a login or payment form together with a brand the domain does not own, a URL the model
flags, or threat language. One sign alone is reported, not concluded from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from veritas.analysis import html
from veritas.analysis.domain import host_of, registrable_domain
from veritas.analysis.forms import carries
from veritas.analysis.lexicon import BRANDS, THREAT_WORDS
from veritas.analysis.result import ModuleResult, score_from
from veritas.analysis.urls import UrlVerdict, analyse_url
from veritas.finding import Finding, Severity
from veritas.page import Page, Site

_WORD = re.compile(r"[a-z0-9]+")


def phishing(site: Site) -> ModuleResult:
    urls = list(dict.fromkeys(u for p in site.pages for u in (p.url, p.final_url)))
    verdicts = [analyse_url(u) for u in urls]
    findings = [f for v in verdicts for f in _url_findings(v)]
    page_signs = [f for page in site.pages for f in page_findings(page)]
    findings.extend(page_signs)
    conclusion = _conclude(site, verdicts, page_signs)
    if conclusion is not None:
        findings.append(conclusion)
    details = {
        "verdict": "phishing" if conclusion else ("suspicious" if findings else "clean"),
        "url_probability": round(max((v.probability for v in verdicts), default=0.0), 3),
        "url_signs": sorted({s.kind for v in verdicts for s in v.signs}),
    }
    return ModuleResult("phishing", score_from(findings), tuple(findings), details)


def _url_findings(verdict: UrlVerdict) -> Iterator[Finding]:
    serious = [s for s in verdict.signs if s.weight >= 1.5]
    if verdict.phishing:
        reasons = "; ".join(s.detail for s in verdict.signs) or "its overall shape"
        # The model alone is wrong on about 3% of honest addresses: low unless a rule agrees.
        severity: Severity = "medium" if serious else "low"
        yield _f(
            "phishing_url",
            severity,
            verdict.probability,
            f"The URL model rates this address "
            f"{verdict.probability:.0%} likely phishing ({reasons}).",
            "This web address looks like the ones used by fake login pages.",
            verdict.url,
            verdict.url,
        )
    for sign in serious if not verdict.phishing else []:
        yield _f(
            f"url_{sign.kind}",
            "low",
            0.6,
            f"URL sign: {sign.detail}.",
            "Something about this web address is unusual.",
            verdict.url,
            verdict.url,
        )


def claimed_brands(doc: html.Document) -> set[str]:
    """Brands the page names where a visitor looks for who runs it: title, logo, site name."""
    where = " ".join(
        [doc.title, doc.meta.get("og:site_name", ""), doc.meta.get("application-name", "")]
        + [logo.alt for logo in doc.logos]
    ).lower()
    tokens = set(_WORD.findall(where))
    return {b for b in BRANDS if b in tokens or (len(b) >= 6 and b in where)}


def page_findings(page: Page) -> list[Finding]:
    if not page.is_html:
        return []
    doc = html.parse(page.text, page.final_url)
    domain = registrable_domain(host_of(page.final_url))
    found: list[Finding] = []
    foreign = {b for b in claimed_brands(doc) if domain not in BRANDS[b]}
    for brand in sorted(foreign):
        found.append(
            _f(
                "brand_impersonation",
                "medium",
                0.7,
                f"The page presents itself as "
                f"{brand} (title/logo) but is served from {domain}, not "
                f"{', '.join(BRANDS[brand][:2])}.",
                f"This page uses the {brand} name, but it is not {brand}'s website.",
                doc.title or brand,
                page.final_url,
            )
        )
    login = [f for f in doc.forms if carries(f).password or carries(f).payment]
    if login:
        found.extend(_login_signs(doc, login, domain, page.final_url))
    found.extend(_offsite_assets(doc, domain, page.final_url))
    return found


def _login_signs(
    doc: html.Document, login: list[html.Form], domain: str, url: str
) -> list[Finding]:
    found = []
    text = doc.text.lower()
    threats = [w for w in THREAT_WORDS if w in text]
    if threats:
        found.append(
            _f(
                "threat_language_login",
                "high",
                0.8,
                f"A login form next to threat language: {', '.join(threats[:4])}.",
                "The page scares you about your account to make you log in quickly.",
                ", ".join(threats[:4]),
                url,
            )
        )
    for form in login:
        target = registrable_domain(host_of(form.action))
        if form.action.startswith("http") and target and target != domain:
            found.append(
                _f(
                    "login_posts_elsewhere",
                    "high",
                    0.85,
                    f"A login or payment form on {domain} posts to {target}.",
                    "What you type is sent to a different website.",
                    form.action,
                    url,
                )
            )
    return found


def _offsite_assets(doc: html.Document, domain: str, url: str) -> list[Finding]:
    found = []
    brand_domains = {d: b for b, ds in BRANDS.items() for d in ds}
    assets = list(doc.icons) + [logo.src for logo in doc.logos]
    for asset in dict.fromkeys(assets):
        owner = registrable_domain(host_of(asset))
        if not owner or owner == domain:
            continue
        brand = brand_domains.get(owner)
        severity: Severity = "high" if brand else "info"
        what = f"{brand}'s own servers" if brand else owner
        found.append(
            _f(
                "offsite_brand_asset",
                severity,
                0.75 if brand else 0.4,
                f"The page's favicon or logo is loaded from {what} ({asset}).",
                "The page borrows another company's logo straight from its servers.",
                asset,
                url,
            )
        )
    return found


_DAMNING = {
    "brand_impersonation",
    "threat_language_login",
    "login_posts_elsewhere",
    "offsite_brand_asset",
    "phishing_url",
}


def _conclude(site: Site, verdicts: list[UrlVerdict], signs: list[Finding]) -> Finding | None:
    """The phishing verdict: a credential form plus at least one independent damning sign."""
    has_login = any(
        carries(f).password or carries(f).payment
        for p in site.pages
        if p.is_html
        for f in html.parse(p.text, p.final_url).forms
    )
    kinds = {s.pattern_type for s in signs if s.severity != "info"} & _DAMNING
    if any(v.phishing for v in verdicts):
        kinds.add("phishing_url")
    if not has_login or not kinds:
        return None
    if kinds == {"phishing_url"}:
        # The URL model alone errs on ~3% of honest sites: ask for a second, page-level sign.
        return None
    url = site.entry.final_url
    return _f(
        "phishing_verdict",
        "critical",
        0.9,
        "Credential-phishing page: a login or payment "
        f"form together with {', '.join(sorted(kinds))}.",
        "This looks like a fake page "
        "built to steal passwords or card numbers. Do not enter anything.",
        ", ".join(sorted(kinds)),
        url,
    )


# Positional, in the order of Finding's own fields, so each check reads as one line.
def _f(  # noqa: PLR0917
    kind: str,
    severity: Severity,
    confidence: float,
    desc: str,
    plain: str,
    evidence: str,
    url: str,
) -> Finding:
    return Finding("phishing", kind, severity, confidence, desc, plain, evidence, url)
