"""The verdict: evidence from every phase -> trust score, risk level and the words that explain it.

Four signals, each 0..100: security (the security modules but phishing), phishing, content
(dark patterns) and intel. Their weighted mean is the score; then named caps apply, so that
one piece of damning evidence cannot be averaged away by good headers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from veritas.analysis import IntelReport, ModuleResult, SiteType
from veritas.analysis.result import score_from
from veritas.finding import SEVERITIES, Finding, merge_pages

VerdictMode = Literal["simple", "expert"]

SIGNAL_WEIGHTS: Mapping[str, float] = {
    "security": 0.35,
    "phishing": 0.30,
    "content": 0.20,
    "intel": 0.15,
}
# Within the security signal: how much each module says about trust, not about hygiene.
MODULE_WEIGHTS: Mapping[str, float] = {
    "security_headers": 0.15,
    "tls": 0.30,
    "redirect_chain": 0.10,
    "form_validation": 0.25,
    "js_analysis": 0.20,
}


@dataclass(frozen=True, slots=True)
class CapRule:
    """A named ceiling on the score, applied when a finding of one of its types is present."""

    name: str
    cap: int
    pattern_types: frozenset[str] = frozenset()
    severity: str | None = None  # or: any finding of at least this severity


CAP_RULES: tuple[CapRule, ...] = (
    CapRule("phishing_verdict", 10, frozenset({"phishing_verdict"})),
    CapRule("credentials_posted_to_another_domain", 15, frozenset({"credentials_to_other_domain"})),
    CapRule("cryptominer", 25, frozenset({"cryptominer"})),
    CapRule("payment_form_over_http", 35, frozenset({"payment_over_http"})),
    CapRule(
        "untrusted_certificate",
        50,
        frozenset(
            {
                "self_signed_certificate",
                "certificate_expired",
                "certificate_hostname_mismatch",
                "certificate_verify_failed",
                "certificate_not_yet_valid",
            }
        ),
    ),
    CapRule("any_critical_finding", 39, severity="critical"),
    CapRule("any_high_finding", 69, severity="high"),
    CapRule("any_medium_finding", 89, severity="medium"),
)


@dataclass(frozen=True, slots=True)
class Evidence:
    security: Sequence[ModuleResult]
    findings: Sequence[Finding]  # every finding of every phase, security ones included
    site_type: SiteType
    intel: IntelReport
    pages_scanned: int
    errors: Sequence[str] = ()
    incomplete: Sequence[str] = ()  # what could not be read: pages cut short, limits hit
    omitted: int = 0  # findings left out of the report by the finding budget


@dataclass(frozen=True, slots=True)
class Verdict:
    trust_score: int
    risk_level: str
    signal_scores: dict[str, int]
    narrative: str
    recommendations: list[str]
    caps: list[dict[str, Any]] = field(default_factory=list)  # hard caps that applied
    mode: str = "simple"
    uncapped_score: int = 0
    severity_counts: dict[str, int] = field(default_factory=dict)
    confidence: float = 1.0  # how much of the site the verdict rests on
    incomplete: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trust_score": self.trust_score,
            "risk_level": self.risk_level,
            "signal_scores": self.signal_scores,
            "narrative": self.narrative,
            "recommendations": self.recommendations,
            "caps": self.caps,
            "verdict_mode": self.mode,
            "uncapped_score": self.uncapped_score,
            "severity_counts": self.severity_counts,
            "confidence": self.confidence,
            "incomplete": self.incomplete,
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


def signal_scores(evidence: Evidence) -> dict[str, int]:
    modules = {m.module: m for m in evidence.security}
    weighted = [(MODULE_WEIGHTS[n], m.score) for n, m in modules.items() if n in MODULE_WEIGHTS]
    total = sum(w for w, _ in weighted)
    security = round(sum(w * s for w, s in weighted) / total) if total else 100
    phishing = (
        modules["phishing"].score
        if "phishing" in modules
        else score_from([f for f in evidence.findings if f.category == "phishing"])
    )
    content = score_from([f for f in evidence.findings if f.category == "dark_pattern"])
    return {
        "security": security,
        "phishing": phishing,
        "content": content,
        "intel": score_from(list(evidence.intel.findings)),
    }


def applied_caps(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    caps = []
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    for rule in CAP_RULES:
        if rule.severity is not None:
            hits = [f for f in findings if rank[f.severity] >= rank[rule.severity]]  # type: ignore[index]
        else:
            hits = [f for f in findings if f.pattern_type in rule.pattern_types]
        if hits:
            caps.append(
                {
                    "rule": rule.name,
                    "cap": rule.cap,
                    "findings": [f.id for f in hits[:10]],
                    "evidence": [f.description for f in hits[:3]],
                }
            )
    return caps


def judge(evidence: Evidence, mode: VerdictMode) -> Verdict:
    findings = _unique(evidence.findings, evidence)
    signals = signal_scores(evidence)
    raw = round(sum(SIGNAL_WEIGHTS[k] * v for k, v in signals.items()))
    caps = applied_caps(findings)
    score = min([raw, *(c["cap"] for c in caps)])
    level = risk_level(score)
    counts = Counter(f.severity for f in findings)
    return Verdict(
        trust_score=score,
        risk_level=level,
        signal_scores=signals,
        narrative=narrative(evidence, findings, score, level, signals, caps, mode),
        recommendations=recommendations(findings, level, mode),
        caps=caps,
        mode=mode,
        uncapped_score=raw,
        severity_counts={s: counts.get(s, 0) for s in SEVERITIES},
        confidence=confidence(evidence),
        incomplete=list(evidence.incomplete),
    )


# Each thing the audit could not read takes this much from the verdict's confidence.
UNREAD_COST = 0.2
MIN_CONFIDENCE = 0.3


def confidence(evidence: Evidence) -> float:
    """1.0 when every page was read whole; less for each page cut short or limit hit."""
    if evidence.pages_scanned == 0:
        return MIN_CONFIDENCE
    return round(max(MIN_CONFIDENCE, 1.0 - UNREAD_COST * len(evidence.incomplete)), 2)


def _unique(findings: Sequence[Finding], evidence: Evidence) -> list[Finding]:
    """Every finding once, including those only inside module results; the same finding on
    several pages is one finding that lists them."""
    everything = [
        *findings,
        *(f for m in evidence.security for f in m.findings),
        *evidence.intel.findings,
    ]
    first: dict[str, Finding] = {}
    for finding in everything:
        first.setdefault(finding.id, finding)
    return merge_pages(first.values())


# --- The words ----------------------------------------------------------------------------

_LEVEL_WORDS = {
    "trusted": "looks trustworthy",
    "probably_safe": "looks mostly safe, with a few things to keep in mind",
    "suspicious": "shows several warning signs",
    "high_risk": "shows serious warning signs",
    "likely_fraudulent": "looks fraudulent",
}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
SIMPLE_REASONS = 4
EXPERT_FINDINGS = 15


def _worst_first(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-_RANK[f.severity], -f.confidence, f.pattern_type))


def narrative(  # noqa: PLR0917
    evidence: Evidence,
    findings: Sequence[Finding],
    score: int,
    level: str,
    signals: Mapping[str, int],
    caps: Sequence[Mapping[str, Any]],
    mode: VerdictMode,
) -> str:
    if mode == "expert":
        return _expert(evidence, findings, score, level, signals, caps)
    return _simple(evidence, findings, score, level)


def _simple(evidence: Evidence, findings: Sequence[Finding], score: int, level: str) -> str:
    domain = evidence.intel.facts.get("domain") or "this site"
    lines = [
        f"We checked {evidence.pages_scanned} page(s) of {domain}. It {_LEVEL_WORDS[level]} "
        f"(trust score {score} out of 100)."
    ]
    serious = [f for f in _worst_first(findings) if _RANK[f.severity] >= _RANK["medium"]]
    reasons = list(dict.fromkeys(f.plain_english for f in serious))[:SIMPLE_REASONS]
    if reasons:
        lines.append("What worried us: " + " ".join(reasons))
    else:
        lines.append(
            "We found nothing that suggests a scam: the connection is secure and the "
            "pages do not pressure or trick visitors."
        )
    lines.extend(_limits_said(evidence))
    return "\n".join(lines)


def _limits_said(evidence: Evidence) -> list[str]:
    """What the verdict could not see, in words: thin evidence is said, not hidden."""
    lines = []
    if evidence.incomplete:
        shown = "; ".join(evidence.incomplete[:3])
        more = len(evidence.incomplete) - 3
        lines.append(
            "We could not read everything, so this verdict rests on part of the site: "
            f"{shown}{f' (and {more} more)' if more > 0 else ''}."
        )
    if evidence.omitted:
        lines.append(
            f"{evidence.omitted} further finding(s) were left out of this report "
            "(too many of one kind); the score counts the ones listed."
        )
    return lines


def _expert(  # noqa: PLR0917
    evidence: Evidence,
    findings: Sequence[Finding],
    score: int,
    level: str,
    signals: Mapping[str, int],
    caps: Sequence[Mapping[str, Any]],
) -> str:
    facts = evidence.intel.facts
    signal_text = ", ".join(f"{k} {v} (weight {SIGNAL_WEIGHTS[k]:.2f})" for k, v in signals.items())
    lines = [
        f"Target {facts.get('host', '?')} (registrable domain {facts.get('domain', '?')}), "
        f"{evidence.pages_scanned} page(s), site type {evidence.site_type.site_type} "
        f"({evidence.site_type.confidence:.2f}). Trust score {score} -> {level}.",
        f"Signals: {signal_text}.",
    ]
    for cap in caps:
        lines.append(f"Cap {cap['rule']} <= {cap['cap']}: {'; '.join(cap['evidence'][:2])}")
    for module in evidence.security:
        extra = f", grade {module.details['grade']}" if "grade" in module.details else ""
        lines.append(
            f"Module {module.module}: score {module.score}{extra}, "
            f"{len(module.findings)} finding(s)."
        )
    for f in _worst_first(findings)[:EXPERT_FINDINGS]:
        lines.append(
            f"[{f.severity}] {f.category}/{f.pattern_type} ({f.confidence:.2f}) at "
            f"{f.url}: {f.description} Evidence: {f.evidence[:160]}"
        )
    if evidence.errors:
        lines.append(f"Errors during the audit: {'; '.join(evidence.errors[:5])}")
    lines.extend(_limits_said(evidence))
    return "\n".join(lines)


# Advice for a visitor (simple) and a remedy for the site's operator (expert), by finding type.
_ADVICE: Mapping[str, tuple[str, str]] = {
    "phishing_verdict": (
        "Do not type any password or card number on this site.",
        "Treat as credential phishing: report to the impersonated brand and "
        "to the hosting provider; block the domain.",
    ),
    "credentials_to_other_domain": (
        "Do not log in here: your password would go to another website.",
        "Make the login form post to the site's own domain; audit for injected forms.",
    ),
    "cryptominer": (
        "Leave the site: it uses your computer to mine cryptocurrency.",
        "Remove the mining script and look for the compromise that planted it.",
    ),
    "no_https": (
        "Do not enter personal details: the connection is not encrypted.",
        "Serve every page over https and redirect http to https on the same host.",
    ),
    "payment_over_http": (
        "Never pay on this page: card details would travel unencrypted.",
        "Serve checkout over https only.",
    ),
    "password_over_http": (
        "Do not log in on this page: the password travels unencrypted.",
        "Serve login pages over https only.",
    ),
    "self_signed_certificate": (
        "Heed your browser's certificate warning and leave.",
        "Install a certificate from a public CA.",
    ),
    "certificate_expired": (
        "Heed your browser's certificate warning and leave.",
        "Renew the certificate and automate renewal.",
    ),
    "certificate_hostname_mismatch": (
        "The certificate is for another site: do not continue.",
        "Issue a certificate that names every served host.",
    ),
    "brand_impersonation": (
        "Go to the brand's real website by typing its address yourself.",
        "Investigate impersonation of the named brand.",
    ),
    "sneak_into_basket": (
        "Check your basket and untick extras you did not choose before paying.",
        "Do not pre-select paid add-ons (sneak into basket).",
    ),
    "countdown_timer": (
        "Ignore countdowns: compare prices elsewhere before buying.",
        "Remove fake or resetting countdown timers.",
    ),
    "hidden_subscription": (
        "Read the small print: the purchase may renew automatically.",
        "Disclose recurring charges clearly before payment.",
    ),
    "csp_not_implemented": ("", "Add a Content-Security-Policy without 'unsafe-inline'."),
    "hsts_not_implemented": ("", "Send Strict-Transport-Security with max-age >= 15768000."),
    "x_frame_options_not_implemented": ("", "Send CSP frame-ancestors or X-Frame-Options DENY."),
    "x_content_type_options_not_implemented": ("", "Send X-Content-Type-Options: nosniff."),
    "cross_origin_script_without_sri": ("", "Add integrity attributes to third-party scripts."),
    "mixed_active_content": ("", "Load every script, frame and stylesheet over https."),
}
_CATEGORY_ADVICE: Mapping[str, tuple[str, str]] = {
    "dark_pattern": (
        "Take your time: the page uses pressure tactics to rush you.",
        "Remove manipulative design patterns (Mathur et al. 2019 taxonomy).",
    ),
    "phishing": (
        "Check the address bar carefully before signing in anywhere.",
        "Review phishing indicators on the URL and page.",
    ),
}


def recommendations(findings: Sequence[Finding], level: str, mode: VerdictMode) -> list[str]:
    pick = 1 if mode == "expert" else 0
    advice: list[str] = []
    for f in _worst_first(findings):
        if f.severity == "info":
            continue
        pair = _ADVICE.get(f.pattern_type) or _CATEGORY_ADVICE.get(f.category)
        if mode == "expert" and pair is None:
            pair = ("", f"{f.pattern_type}: {f.description}")
        if pair and pair[pick]:
            advice.append(pair[pick])
    if not advice:
        advice.append(
            "No action needed beyond ordinary care online."
            if mode == "simple"
            else "No remediation needed; keep headers and certificates current."
        )
    elif mode == "simple" and level in ("high_risk", "likely_fraudulent"):
        advice.insert(0, "We advise you not to use this site.")
    return list(dict.fromkeys(advice))[:10]
