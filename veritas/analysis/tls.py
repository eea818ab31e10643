"""The `tls` security module: https or not, and what the certificate says."""

from __future__ import annotations

import time

from veritas.analysis import html
from veritas.analysis.domain import host_of
from veritas.analysis.forms import carries
from veritas.analysis.result import ModuleResult, score_from
from veritas.finding import Finding, Severity
from veritas.page import Page, Site, TlsInfo

SOON = 14 * 86400
_OLD_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


def tls(site: Site, now: float | None = None) -> ModuleResult:
    page = site.entry
    when = time.time() if now is None else now
    info = page.tls
    if info is None or not page.final_url.startswith("https:"):
        findings: tuple[Finding, ...] = (_no_https(page, _asks_for_data(site)),)
        return ModuleResult("tls", score_from(findings), findings, {"https": False})
    findings = tuple(certificate_findings(info, page.final_url, when))
    return ModuleResult("tls", score_from(findings), findings, _details(info, when))


def _asks_for_data(site: Site) -> bool:
    """Whether any page has a form for a password, a card or personal data."""
    return any(
        carries(form).sensitive
        for p in site.pages
        if p.is_html
        for form in html.parse(p.text, p.final_url).forms
    )


def _no_https(page: Page, asks_for_data: bool) -> Finding:
    # Plain http is a privacy weakness everywhere, but a serious one only where visitors
    # are asked to type something worth stealing.
    return Finding(
        category="security",
        pattern_type="no_https",
        severity="high" if asks_for_data else "medium",
        confidence=0.95,
        description=f"The final page is served over plain http ({page.final_url}).",
        plain_english="The connection is not encrypted: anyone on the network can read or "
        "change what you see and send.",
        evidence=page.final_url,
        url=page.final_url,
    )


def _details(info: TlsInfo, now: float) -> dict[str, object]:
    return {
        "https": True,
        "protocol": info.version,
        "cipher": info.cipher,
        "issuer": info.issuer.get("organizationName") or info.issuer.get("commonName"),
        "subject": info.subject.get("commonName"),
        "not_after": info.not_after,
        "days_left": None if info.not_after is None else int((info.not_after - now) // 86400),
        "self_signed": info.self_signed,
        "hostname_matches": info.hostname_matches,
        "verify_error": info.verify_error,
    }


def certificate_findings(info: TlsInfo, url: str, now: float) -> list[Finding]:
    checks: list[tuple[bool, str, Severity, str, str, str]] = [
        (
            info.self_signed,
            "self_signed_certificate",
            "high",
            "The certificate is self-signed: no authority vouches for it.",
            "Nobody independent has confirmed who runs this site.",
            f"issuer {info.issuer}",
        ),
        (
            not info.hostname_matches,
            "certificate_hostname_mismatch",
            "high",
            f"The certificate does not name {host_of(url)} (SAN: {', '.join(info.san[:5])}).",
            "The security certificate belongs to a different website.",
            f"SAN {list(info.san[:5])}",
        ),
        (
            info.verify_error is not None and not info.self_signed,
            "certificate_verify_failed",
            "high",
            f"Certificate chain verification failed: {info.verify_error}.",
            "Your browser would warn you that this connection is not private.",
            str(info.verify_error),
        ),
        (
            info.version in _OLD_PROTOCOLS,
            "old_tls_protocol",
            "medium",
            f"The server negotiated {info.version}, deprecated by RFC 8996.",
            "The site uses an outdated form of encryption.",
            str(info.version),
        ),
    ]
    findings = [
        _finding(kind, sev, desc, plain, ev, url)
        for hit, kind, sev, desc, plain, ev in checks
        if hit
    ]
    findings.extend(_validity(info, url, now))
    return findings


def _validity(info: TlsInfo, url: str, now: float) -> list[Finding]:
    if info.not_after is not None and info.not_after < now:
        days = int((now - info.not_after) // 86400)
        return [
            _finding(
                "certificate_expired",
                "high",
                f"The certificate expired {days} day(s) ago.",
                "The site's security certificate has expired.",
                f"notAfter {info.not_after:.0f}",
                url,
            )
        ]
    if info.not_before is not None and info.not_before > now:
        return [
            _finding(
                "certificate_not_yet_valid",
                "high",
                "The certificate is not valid yet.",
                "The site's security certificate is not valid yet.",
                f"notBefore {info.not_before:.0f}",
                url,
            )
        ]
    if info.not_after is not None and info.not_after - now < SOON:
        days = int((info.not_after - now) // 86400)
        return [
            _finding(
                "certificate_expires_soon",
                "low",
                f"The certificate expires in {days} day(s).",
                "The site's security certificate is about to expire.",
                f"notAfter {info.not_after:.0f}",
                url,
            )
        ]
    return []


# Positional, in the order of Finding's own fields, so each check reads as one line.
def _finding(  # noqa: PLR0917
    kind: str, severity: Severity, desc: str, plain: str, evidence: str, url: str
) -> Finding:
    return Finding(
        category="security",
        pattern_type=kind,
        severity=severity,
        confidence=0.95,
        description=desc,
        plain_english=plain,
        evidence=evidence,
        url=url,
    )
