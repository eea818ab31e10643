"""The twelve tests together: the Observatory's score, grade, and our findings.

The score starts at 100 and takes every penalty; only when that is at least 90 are the
bonuses added. The score never goes below 0 and may exceed 100 (A+ from 100 up).
"""

from __future__ import annotations

from dataclasses import dataclass

from veritas.analysis.headers import (
    cookies,
    cors,
    csp,
    framing,
    hsts,
    nosniff,
    redirection,
    referrer,
    sri,
)
from veritas.analysis.headers.exchange import Exchange
from veritas.analysis.headers.isolation import judge_coep, judge_coop, judge_corp
from veritas.analysis.headers.outcome import TestOutcome
from veritas.analysis.headers.table import MINIMUM_SCORE_FOR_EXTRA_CREDIT, letter
from veritas.analysis.result import ModuleResult
from veritas.finding import Finding, Severity
from veritas.page import Site


@dataclass(frozen=True, slots=True)
class Grade:
    score: int
    grade: str
    outcomes: tuple[TestOutcome, ...]

    def outcome(self, test: str) -> TestOutcome:
        return next(o for o in self.outcomes if o.test == test)


def run_tests(exchange: Exchange) -> tuple[TestOutcome, ...]:
    """Every test, in the Observatory's order."""
    policy = csp.judge(exchange)
    strict_transport = hsts.judge(exchange)
    return (
        policy.outcome,
        cookies.judge(exchange, strict_transport.passed),
        cors.judge(exchange),
        redirection.judge(exchange),
        referrer.judge(exchange),
        strict_transport,
        sri.judge(exchange),
        nosniff.judge(exchange),
        framing.judge(exchange, policy.directives),
        judge_corp(exchange),
        judge_coop(exchange),
        judge_coep(exchange),
    )


def score(outcomes: tuple[TestOutcome, ...]) -> int:
    total = 100 + sum(o.modifier for o in outcomes if o.modifier < 0)
    if total >= MINIMUM_SCORE_FOR_EXTRA_CREDIT:
        total += sum(o.modifier for o in outcomes if o.modifier > 0)
    return max(0, total)


def grade(site: Site) -> Grade:
    """Grade the site's entry response as the Observatory grades a host."""
    outcomes = run_tests(Exchange.of(site))
    points = score(outcomes)
    return Grade(points, letter(points), outcomes)


def security_headers(site: Site) -> ModuleResult:
    graded = grade(site)
    url = site.entry.final_url
    return ModuleResult(
        module="security_headers",
        score=min(100, graded.score),
        findings=tuple(_finding(o, url) for o in graded.outcomes if not o.passed),
        details={
            "observatory_score": graded.score,
            "grade": graded.grade,
            "tests": [o.to_dict() for o in graded.outcomes],
            "tests_passed": sum(o.passed for o in graded.outcomes),
            "tests_quantity": len(graded.outcomes),
            "url": url,
        },
    )


def _finding(outcome: TestOutcome, url: str) -> Finding:
    # Missing hardening is rarely a sign of fraud by itself; only the worst misconfigurations
    # (credentialed CORS, unprotected session cookies, scripts over http) reach medium.
    severity: Severity = "medium" if outcome.modifier <= -30 else "low"
    return Finding(
        category="security",
        pattern_type=outcome.result.replace("-", "_"),
        severity=severity,
        confidence=0.95,
        description=f"{outcome.test}: {outcome.reason} (Observatory modifier {outcome.modifier})",
        plain_english=_PLAIN.get(outcome.test, "The site skips a standard browser protection."),
        evidence=outcome.evidence or outcome.result,
        url=url,
    )


_PLAIN = {
    "content-security-policy": "The site does not tell browsers which scripts to trust, so "
    "injected code would run freely.",
    "cookies": "The site's cookies could leak or be stolen more easily than necessary.",
    "cross-origin-resource-sharing": "Other websites can read this site's responses with "
    "your login attached.",
    "redirection": "The site does not move visitors onto a secure connection properly.",
    "referrer-policy": "Addresses of pages you visit here may leak to other sites.",
    "strict-transport-security": "Browsers are not told to always use a secure connection here.",
    "subresource-integrity": "Scripts from other servers load without a tamper check.",
    "x-content-type-options": "Browsers may guess file types here, which attackers can abuse.",
    "x-frame-options": "Other sites could embed this page invisibly to trick your clicks.",
    "cross-origin-resource-policy": "Other sites may embed this site's resources in ways "
    "the site did not intend.",
    "cross-origin-opener-policy": "Pages this site opens, or that open it, can reach into it.",
    "cross-origin-embedder-policy": "The site declares an embedding policy browsers cannot read.",
}
