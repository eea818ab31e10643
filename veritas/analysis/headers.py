"""Response header grading after the Mozilla HTTP Observatory's public scoring algorithm.

Every test yields one named outcome with the Observatory's modifier. The score starts at 100,
takes every penalty, and only when that is at least 90 also takes the bonuses. The grade
follows the Observatory's chart. Two differences, both because the auditor sees only what
the scout fetched: the redirection test judges the chain the scout followed (when the audit
started on https there is no http request to judge), and the HSTS preload list is not
shipped, so `hsts-preloaded` is never awarded. COOP and COEP are reported but, as in the
Observatory, carry no modifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veritas.analysis import html
from veritas.analysis.domain import host_of, registrable_domain
from veritas.analysis.result import ModuleResult
from veritas.finding import Finding, Severity
from veritas.page import Page, Site

MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90
SIX_MONTHS = 15768000
_GRADES = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    test: str  # "content-security-policy"
    result: str  # "csp-not-implemented"
    modifier: int
    reason: str
    evidence: str = ""

    @property
    def passed(self) -> bool:
        return self.modifier >= 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "result": self.result,
            "modifier": self.modifier,
            "pass": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Grade:
    score: int  # may exceed 100 with bonuses, as in the Observatory
    grade: str
    outcomes: tuple[TestOutcome, ...]


def letter(score: int) -> str:
    return next(g for floor, g in _GRADES if score >= floor)


def grade(page: Page) -> Grade:
    """Grade one response: the entry page's final response, as the Observatory does."""
    doc = html.parse(page.text, page.final_url) if page.is_html else None
    outcomes = tuple(test(page, doc) for test in TESTS)
    score = 100 + sum(o.modifier for o in outcomes if o.modifier < 0)
    if score >= MINIMUM_SCORE_FOR_EXTRA_CREDIT:
        score += sum(o.modifier for o in outcomes if o.modifier > 0)
    score = max(0, score)
    return Grade(score, letter(score), outcomes)


def security_headers(site: Site) -> ModuleResult:
    page = site.entry
    graded = grade(page)
    findings = tuple(_finding(o, page.final_url) for o in graded.outcomes if not o.passed)
    return ModuleResult(
        module="security_headers",
        score=min(100, graded.score),
        findings=findings,
        details={
            "observatory_score": graded.score,
            "grade": graded.grade,
            "tests": [o.to_dict() for o in graded.outcomes],
            "url": page.final_url,
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
    "cross-origin-resource-policy": "The site's resources may be embedded by other sites.",
}


# --- Content Security Policy ---------------------------------------------------------------

_BROAD = {"*", "http:", "https:", "data:", "blob:", "filesystem:"}


def parse_csp(value: str) -> dict[str, list[str]] | None:
    """Directive -> sources, lower-cased; None when the policy cannot be parsed."""
    policy: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.strip().split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if not re.fullmatch(r"[a-z0-9-]+", name) or name in policy:
            return None
        policy[name] = [t.lower() for t in tokens[1:]]
    return policy or None


def _csp_value(page: Page, doc: html.Document | None) -> str | None:
    header = page.header("content-security-policy")
    if header is not None:
        return header
    return doc.http_equiv.get("content-security-policy") if doc else None


def test_csp(page: Page, doc: html.Document | None) -> TestOutcome:
    value = _csp_value(page, doc)
    name = "content-security-policy"
    if value is None:
        return TestOutcome(name, "csp-not-implemented", -25, "No Content-Security-Policy.")
    policy = parse_csp(value)
    if policy is None:
        return TestOutcome(
            name, "csp-header-invalid", -25, "The policy cannot be parsed.", value[:200]
        )
    return _judge_csp(policy, page.final_url.startswith("https:"), value[:200])


def _judge_csp(policy: dict[str, list[str]], https: bool, evidence: str) -> TestOutcome:
    name = "content-security-policy"
    default = policy.get("default-src")
    script = policy.get("script-src", default)
    obj = policy.get("object-src", default)
    style = policy.get("style-src", default)
    strict_dynamic = script is not None and "'strict-dynamic'" in script
    if script is None or obj is None or _unsafe_script(script, strict_dynamic) or _broad(obj):
        reason = "'unsafe-inline', data: or broad sources in script-src/object-src, or unset."
        return TestOutcome(name, "csp-implemented-with-unsafe-inline", -20, reason, evidence)
    if https and _insecure(policy, _ACTIVE, default):
        reason = "The policy allows scripts or frames over http."
        return TestOutcome(name, "csp-implemented-with-insecure-scheme", -20, reason, evidence)
    if "'unsafe-eval'" in script:
        return TestOutcome(
            name, "csp-implemented-with-unsafe-eval", -10, "Allows 'unsafe-eval'.", evidence
        )
    if https and _insecure(policy, _PASSIVE, default):
        reason = "The policy allows images or media over http."
        return TestOutcome(
            name, "csp-implemented-with-insecure-scheme-in-passive-content-only", -10, reason
        )
    if style is not None and ("'unsafe-inline'" in style or _broad(style)):
        reason = "Unsafe sources only in style-src."
        return TestOutcome(name, "csp-implemented-with-unsafe-inline-in-style-src-only", 0, reason)
    form_action = policy.get("form-action", [])
    if default == ["'none'"] and form_action in (["'none'"], ["'self'"]):
        return TestOutcome(
            name,
            "csp-implemented-with-no-unsafe-default-src-none",
            10,
            "default-src 'none', no unsafe sources, form-action restricted.",
        )
    return TestOutcome(name, "csp-implemented-with-no-unsafe", 5, "No unsafe sources.")


_ACTIVE = ("script-src", "object-src", "frame-src", "child-src", "connect-src", "style-src")
_PASSIVE = ("img-src", "media-src")


def _unsafe_script(sources: list[str], strict_dynamic: bool) -> bool:
    # With nonces or hashes, or 'strict-dynamic', browsers ignore 'unsafe-inline'.
    hashed = any(s.startswith(("'nonce-", "'sha")) for s in sources)
    inline = "'unsafe-inline'" in sources and not hashed
    broad = _broad(sources) and not strict_dynamic
    return inline or broad or "data:" in sources


def _broad(sources: list[str]) -> bool:
    return any(s in _BROAD for s in sources)


def _insecure(
    policy: dict[str, list[str]], directives: tuple[str, ...], default: list[str] | None
) -> bool:
    for directive in directives:
        for source in policy.get(directive, default) or []:
            if source == "http:" or source.startswith("http://"):
                return True
    return False


# --- Cookies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str
    secure: bool
    httponly: bool
    samesite: str | None


def parse_set_cookie(value: str) -> Cookie | None:
    first, *attrs = value.split(";")
    name = first.split("=", 1)[0].strip()
    if not name:
        return None
    flags: dict[str, str] = {}
    for attr in attrs:
        key, _, val = attr.strip().partition("=")
        flags[key.strip().lower()] = val.strip()
    return Cookie(
        name=name,
        secure="secure" in flags,
        httponly="httponly" in flags,
        samesite=flags.get("samesite"),
    )


def _is_session(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("login", "sess"))


def _hsts_max_age(page: Page) -> int | None:
    value = page.header("strict-transport-security")
    if value is None:
        return None
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
    return int(match.group(1)) if match else None


def test_cookies(page: Page, doc: html.Document | None) -> TestOutcome:
    cookies = [c for v in page.header_all("set-cookie") if (c := parse_set_cookie(v))]
    name = "cookies"
    if not cookies:
        return TestOutcome(name, "cookies-not-found", 0, "No cookies set.")
    https = page.final_url.startswith("https:")
    hsts = https and (_hsts_max_age(page) or 0) > 0
    worst = [_cookie_outcome(c, https, hsts) for c in cookies]
    bad = [o for o in worst if o is not None]
    if bad:
        return min(bad, key=lambda o: o.modifier)
    if all(c.samesite and c.samesite.lower() in ("strict", "lax", "none") for c in cookies):
        return TestOutcome(
            name,
            "cookies-secure-with-httponly-sessions-and-samesite",
            5,
            "Secure cookies, HttpOnly sessions and SameSite.",
        )
    return TestOutcome(
        name, "cookies-secure-with-httponly-sessions", 0, "Secure cookies and HttpOnly sessions."
    )


def _cookie_outcome(cookie: Cookie, https: bool, hsts: bool) -> TestOutcome | None:
    name, session = "cookies", _is_session(cookie.name)
    secure = cookie.secure and https
    outcomes: list[TestOutcome] = []
    if cookie.samesite is not None and cookie.samesite.lower() not in ("strict", "lax", "none"):
        outcomes.append(
            TestOutcome(name, "cookies-samesite-flag-invalid", -20, "Invalid SameSite value.")
        )
    if "csrf" in cookie.name.lower() and cookie.samesite is None:
        outcomes.append(
            TestOutcome(
                name,
                "cookies-anticsrf-without-samesite-flag",
                -20,
                "CSRF token cookie without SameSite.",
            )
        )
    if session and not cookie.httponly:
        outcomes.append(
            TestOutcome(
                name,
                "cookies-session-without-httponly-flag",
                -30,
                "Session cookie readable by scripts (no HttpOnly).",
            )
        )
    if not secure:
        outcomes.append(_insecure_cookie(session, hsts))
    for outcome in outcomes:
        object.__setattr__(outcome, "evidence", f"Set-Cookie: {cookie.name}")
    return min(outcomes, key=lambda o: o.modifier) if outcomes else None


def _insecure_cookie(session: bool, hsts: bool) -> TestOutcome:
    name = "cookies"
    if session:
        if hsts:
            return TestOutcome(
                name,
                "cookies-session-without-secure-flag-but-protected-by-hsts",
                -10,
                "Session cookie without Secure, but HSTS protects it.",
            )
        return TestOutcome(
            name,
            "cookies-session-without-secure-flag",
            -40,
            "Session cookie without Secure, or set over http.",
        )
    if hsts:
        return TestOutcome(
            name,
            "cookies-without-secure-flag-but-protected-by-hsts",
            -5,
            "Cookie without Secure, but HSTS protects it.",
        )
    return TestOutcome(
        name, "cookies-without-secure-flag", -20, "Cookie without Secure, or set over http."
    )


# --- CORS, redirection, referrer ------------------------------------------------------------


def test_cors(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "cross-origin-resource-sharing"
    origin = page.header("access-control-allow-origin")
    credentials = (page.header("access-control-allow-credentials") or "").lower() == "true"
    if origin is None:
        return TestOutcome(
            name, "cross-origin-resource-sharing-not-implemented", 0, "No CORS headers."
        )
    if credentials and origin.strip() in ("*", "null"):
        return TestOutcome(
            name,
            "cross-origin-resource-sharing-implemented-with-universal-access",
            -50,
            "Any origin may read responses with credentials.",
            f"Access-Control-Allow-Origin: {origin}",
        )
    if origin.strip() == "*":
        return TestOutcome(
            name,
            "cross-origin-resource-sharing-implemented-with-public-access",
            0,
            "Public content readable cross-origin.",
        )
    return TestOutcome(
        name,
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        0,
        "CORS restricted to named origins.",
    )


def test_redirection(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "redirection"
    urls = [h.url for h in page.redirects] + [page.final_url]
    if not page.url.startswith("http:"):
        return TestOutcome(name, "redirection-not-needed-no-http", 0, "The audit started on https.")
    if page.tls is not None and page.tls.verify_error and page.redirects:
        return TestOutcome(
            name, "redirection-invalid-cert", -20, "Invalid certificate during redirection."
        )
    if not page.redirects:
        return TestOutcome(
            name,
            "redirection-missing",
            -20,
            "http is served without redirecting to https.",
            page.url,
        )
    if not page.final_url.startswith("https:"):
        return TestOutcome(
            name,
            "redirection-not-to-https",
            -20,
            "The final destination is http.",
            " -> ".join(urls),
        )
    first = urls[1]
    if not first.startswith("https:"):
        return TestOutcome(
            name,
            "redirection-not-to-https-on-initial-redirection",
            -10,
            "The first redirect goes to another http URL.",
            " -> ".join(urls),
        )
    if host_of(first) != host_of(page.url):
        return TestOutcome(
            name,
            "redirection-off-host-from-http",
            -5,
            "The first redirect to https changes host, so HSTS cannot be set.",
            " -> ".join(urls),
        )
    return TestOutcome(name, "redirection-to-https", 0, "Redirects to https on the same host.")


_PRIVATE_REFERRER = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
_UNSAFE_REFERRER = {
    "origin",
    "origin-when-cross-origin",
    "unsafe-url",
    "no-referrer-when-downgrade",
}


def test_referrer(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "referrer-policy"
    value = page.header("referrer-policy")
    if value is None and doc is not None:
        value = doc.meta.get("referrer")
    if value is None:
        return TestOutcome(name, "referrer-policy-not-implemented", 0, "No Referrer-Policy.")
    # Browsers use the last policy they understand.
    known = [v.strip().lower() for v in value.split(",")]
    valid = [v for v in known if v in _PRIVATE_REFERRER | _UNSAFE_REFERRER]
    if not valid:
        return TestOutcome(
            name, "referrer-policy-header-invalid", -5, "Unrecognised Referrer-Policy.", value
        )
    if valid[-1] in _PRIVATE_REFERRER:
        return TestOutcome(name, "referrer-policy-private", 5, f"Referrer-Policy {valid[-1]}.")
    return TestOutcome(
        name,
        "referrer-policy-unsafe",
        -5,
        f"Referrer-Policy {valid[-1]} leaks full addresses.",
        value,
    )


# --- HSTS, SRI, XCTO, XFO, CORP, COOP/COEP -------------------------------------------------


def test_hsts(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "strict-transport-security"
    if not page.final_url.startswith("https:"):
        return TestOutcome(
            name, "hsts-not-implemented-no-https", -20, "HSTS needs https, which is not used."
        )
    if page.tls is not None and page.tls.verify_error:
        return TestOutcome(
            name, "hsts-invalid-cert", -20, "HSTS is void with an invalid certificate."
        )
    value = page.header("strict-transport-security")
    if value is None:
        return TestOutcome(name, "hsts-not-implemented", -20, "No Strict-Transport-Security.")
    max_age = _hsts_max_age(page)
    if max_age is None:
        return TestOutcome(name, "hsts-header-invalid", -20, "HSTS without max-age.", value)
    if max_age < SIX_MONTHS:
        return TestOutcome(
            name,
            "hsts-implemented-max-age-less-than-six-months",
            -10,
            f"HSTS max-age {max_age} is under six months.",
            value,
        )
    return TestOutcome(
        name, "hsts-implemented-max-age-at-least-six-months", 0, f"HSTS max-age {max_age}."
    )


def test_sri(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "subresource-integrity"
    if doc is None:
        return TestOutcome(name, "sri-not-implemented-response-not-html", 0, "Not HTML.")
    if not doc.scripts:
        return TestOutcome(name, "sri-not-implemented-but-no-scripts-loaded", 0, "No scripts.")
    site = registrable_domain(host_of(page.final_url))
    external = [s for s in doc.scripts if s.src and registrable_domain(host_of(s.src)) != site]
    if not external:
        if any(s.integrity for s in doc.scripts):
            return TestOutcome(
                name, "sri-implemented-and-all-scripts-loaded-securely", 5, "SRI on own scripts."
            )
        return TestOutcome(
            name,
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
            0,
            "All scripts come from the site itself.",
        )
    # Protocol-relative sources count as insecure, as the Observatory counts them.
    insecure = [s for s in external if not (s.raw_src or "").startswith("https:")]
    with_sri = all(s.integrity for s in external)
    evidence = ", ".join((s.raw_src or "") for s in (insecure or external)[:3])
    if with_sri:
        if insecure:
            return TestOutcome(
                name,
                "sri-implemented-but-external-scripts-not-loaded-securely",
                -20,
                "External scripts load over http.",
                evidence,
            )
        return TestOutcome(
            name,
            "sri-implemented-and-external-scripts-loaded-securely",
            5,
            "SRI on every external script.",
        )
    if insecure:
        return TestOutcome(
            name,
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
            -50,
            "External scripts load over http without SRI.",
            evidence,
        )
    return TestOutcome(
        name,
        "sri-not-implemented-but-external-scripts-loaded-securely",
        -5,
        "External scripts without SRI.",
        evidence,
    )


def test_xcto(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "x-content-type-options"
    value = page.header("x-content-type-options")
    if value is None:
        return TestOutcome(
            name, "x-content-type-options-not-implemented", -5, "No X-Content-Type-Options."
        )
    if value.strip().lower() == "nosniff":
        return TestOutcome(name, "x-content-type-options-nosniff", 0, "nosniff.")
    return TestOutcome(
        name, "x-content-type-options-header-invalid", -5, "Unrecognised value.", value
    )


def test_xfo(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "x-frame-options"
    csp = _csp_value(page, None)  # frame-ancestors is ignored in <meta> policies
    policy = parse_csp(csp) if csp else None
    ancestors = policy.get("frame-ancestors") if policy else None
    if ancestors and "*" not in ancestors:
        return TestOutcome(
            name, "x-frame-options-implemented-via-csp", 5, "CSP frame-ancestors set."
        )
    value = page.header("x-frame-options")
    if value is None:
        return TestOutcome(
            name, "x-frame-options-not-implemented", -20, "No X-Frame-Options or frame-ancestors."
        )
    lowered = value.strip().lower()
    if lowered in ("deny", "sameorigin"):
        return TestOutcome(name, "x-frame-options-sameorigin-or-deny", 0, value.strip().upper())
    if lowered.startswith("allow-from "):
        return TestOutcome(name, "x-frame-options-allow-from-origin", 0, "ALLOW-FROM.")
    return TestOutcome(name, "x-frame-options-header-invalid", -20, "Unrecognised value.", value)


def test_corp(page: Page, doc: html.Document | None) -> TestOutcome:
    name = "cross-origin-resource-policy"
    value = page.header("cross-origin-resource-policy")
    if value is None:
        return TestOutcome(name, "corp-not-implemented", 0, "No CORP (defaults to cross-origin).")
    lowered = value.strip().lower()
    if lowered in ("same-origin", "same-site"):
        return TestOutcome(name, f"corp-implemented-with-{lowered}", 10, f"CORP {lowered}.")
    if lowered == "cross-origin":
        return TestOutcome(name, "corp-implemented-with-cross-origin", 0, "CORP cross-origin.")
    return TestOutcome(name, "corp-header-invalid", -5, "Unrecognised CORP value.", value)


def _isolation(
    header: str, good: tuple[str, ...]
) -> Callable[[Page, html.Document | None], TestOutcome]:
    short = "coop" if "opener" in header else "coep"

    def test(page: Page, doc: html.Document | None) -> TestOutcome:
        value = page.header(header)
        if value is None:
            return TestOutcome(header, f"{short}-not-implemented", 0, f"No {header}.")
        kind = value.split(";")[0].strip().lower()
        if kind in good:
            return TestOutcome(header, f"{short}-implemented-with-{kind}", 0, f"{header} {kind}.")
        return TestOutcome(header, f"{short}-implemented-with-{kind or 'nothing'}", 0, value)

    return test


TESTS: tuple[Callable[[Page, html.Document | None], TestOutcome], ...] = (
    test_csp,
    test_cookies,
    test_cors,
    test_redirection,
    test_referrer,
    test_hsts,
    test_sri,
    test_xcto,
    test_xfo,
    test_corp,
    _isolation("cross-origin-opener-policy", ("same-origin", "same-origin-allow-popups")),
    _isolation("cross-origin-embedder-policy", ("require-corp", "credentialless")),
)
