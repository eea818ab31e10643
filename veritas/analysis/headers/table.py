"""The Observatory's score table: every result name, its modifier, and the grade chart.

The modifiers are those of the current MDN HTTP Observatory (algorithm version 6, which
added the COOP and COEP tests and the X-Frame-Options credit). Changing a number here
changes the grade everywhere; `docs/headers.md` lists the same table with where each
result is produced.
"""

from __future__ import annotations

from typing import Final

MINIMUM_SCORE_FOR_EXTRA_CREDIT: Final = 90

# result name -> (modifier, what it means)
SCORE_TABLE: Final[dict[str, tuple[int, str]]] = {
    # Content Security Policy
    "csp-implemented-with-no-unsafe-default-src-none": (
        10,
        "CSP implemented with default-src 'none' and no unsafe sources.",
    ),
    "csp-implemented-with-no-unsafe": (5, "CSP implemented without unsafe sources."),
    "csp-implemented-with-unsafe-inline-in-style-src-only": (
        0,
        "CSP implemented with unsafe sources only inside style-src.",
    ),
    "csp-implemented-but-duplicate-directives": (
        0,
        "CSP implemented, but repeats report-uri or report-to.",
    ),
    "csp-implemented-with-insecure-scheme-in-passive-content-only": (
        -10,
        "CSP allows images or media over http on an https site.",
    ),
    "csp-implemented-with-unsafe-eval": (-10, "CSP allows 'unsafe-eval'."),
    "csp-implemented-with-unsafe-inline": (
        -20,
        "CSP allows 'unsafe-inline', data: or overly broad sources for scripts or objects.",
    ),
    "csp-implemented-with-insecure-scheme": (
        -20,
        "CSP allows resources over http or ftp on an https site.",
    ),
    "csp-header-invalid": (-25, "The CSP cannot be parsed."),
    "csp-not-implemented": (-25, "No Content-Security-Policy."),
    "csp-not-implemented-but-reporting-enabled": (
        -25,
        "Only Content-Security-Policy-Report-Only, which enforces nothing.",
    ),
    # Cookies
    "cookies-secure-with-httponly-sessions-and-samesite": (
        5,
        "All cookies Secure, session cookies HttpOnly, every cookie with SameSite.",
    ),
    "cookies-secure-with-httponly-sessions": (
        0,
        "All cookies Secure and session cookies HttpOnly.",
    ),
    "cookies-not-found": (0, "No cookies set."),
    "cookies-without-secure-flag-but-protected-by-hsts": (
        -5,
        "Cookies without Secure, but HSTS keeps them off http.",
    ),
    "cookies-session-without-secure-flag-but-protected-by-hsts": (
        -10,
        "Session cookie without Secure, but HSTS keeps it off http.",
    ),
    "cookies-without-secure-flag": (-20, "Cookies without Secure, or set over http."),
    "cookies-samesite-flag-invalid": (
        -20,
        "SameSite with an unknown value, or SameSite=None without Secure.",
    ),
    "cookies-anticsrf-without-samesite-flag": (-20, "Anti-CSRF cookie without SameSite."),
    "cookies-session-without-httponly-flag": (-30, "Session cookie readable by scripts."),
    "cookies-session-without-secure-flag": (
        -40,
        "Session cookie without Secure, or set over http.",
    ),
    # Cross-origin resource sharing
    "cross-origin-resource-sharing-not-implemented": (0, "No CORS headers."),
    "cross-origin-resource-sharing-implemented-with-public-access": (
        0,
        "Public content readable cross-origin (Access-Control-Allow-Origin: *).",
    ),
    "cross-origin-resource-sharing-implemented-with-restricted-access": (
        0,
        "CORS restricted to specific origins.",
    ),
    "cross-origin-resource-sharing-implemented-with-universal-access": (
        -50,
        "Any origin is reflected with credentials allowed.",
    ),
    # Redirection
    "redirection-all-redirects-preloaded": (
        0,
        "Every host redirected through is on the HSTS preload list.",
    ),
    "redirection-to-https": (0, "http redirects to https on the same host first."),
    "redirection-not-needed-no-http": (0, "No http to redirect from."),
    "redirection-off-host-from-http": (
        -5,
        "The first redirect to https changes host, so HSTS cannot be set.",
    ),
    "redirection-not-to-https-on-initial-redirection": (
        -10,
        "The first redirect goes to another http URL.",
    ),
    "redirection-not-to-https": (-20, "Redirects, but ends on http."),
    "redirection-missing": (-20, "http is served without a redirect to https."),
    "redirection-invalid-cert": (-20, "Invalid certificate during redirection."),
    # Referrer-Policy
    "referrer-policy-private": (5, "Referrer-Policy keeps addresses private."),
    "referrer-policy-not-implemented": (0, "No Referrer-Policy."),
    "referrer-policy-unsafe": (-5, "Referrer-Policy leaks full addresses."),
    "referrer-policy-header-invalid": (-5, "Referrer-Policy not recognised."),
    # Strict-Transport-Security
    "hsts-preloaded": (5, "On the HSTS preload list."),
    "hsts-implemented-max-age-at-least-six-months": (0, "HSTS max-age of six months or more."),
    "hsts-implemented-max-age-less-than-six-months": (-10, "HSTS max-age under six months."),
    "hsts-not-implemented": (-20, "No Strict-Transport-Security."),
    "hsts-header-invalid": (-20, "Strict-Transport-Security not recognised or repeated."),
    "hsts-not-implemented-no-https": (-20, "HSTS needs https, which is not used."),
    "hsts-invalid-cert": (-20, "HSTS is void with an invalid certificate."),
    # Subresource integrity
    "sri-implemented-and-all-scripts-loaded-securely": (
        5,
        "SRI used and every script comes from the site itself.",
    ),
    "sri-implemented-and-external-scripts-loaded-securely": (
        5,
        "SRI on every external script, all over https.",
    ),
    "sri-not-implemented-response-not-html": (0, "Not HTML."),
    "sri-not-implemented-but-no-scripts-loaded": (0, "No scripts."),
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": (
        0,
        "All scripts come from the site itself.",
    ),
    "sri-not-implemented-but-external-scripts-loaded-securely": (
        -5,
        "External scripts over https without SRI.",
    ),
    "sri-implemented-but-external-scripts-not-loaded-securely": (
        -20,
        "External scripts over http or protocol-relative URLs.",
    ),
    "sri-not-implemented-and-external-scripts-not-loaded-securely": (
        -50,
        "External scripts over http or protocol-relative URLs, without SRI.",
    ),
    "html-not-parseable": (-20, "Claims to be HTML but cannot be parsed."),
    # X-Content-Type-Options
    "x-content-type-options-nosniff": (0, "nosniff."),
    "x-content-type-options-not-implemented": (-5, "No X-Content-Type-Options."),
    "x-content-type-options-header-invalid": (-5, "X-Content-Type-Options not recognised."),
    # X-Frame-Options
    "x-frame-options-implemented-via-csp": (5, "Framing limited by CSP frame-ancestors."),
    "x-frame-options-sameorigin-or-deny": (5, "X-Frame-Options DENY or SAMEORIGIN."),
    "x-frame-options-allow-from-origin": (0, "X-Frame-Options ALLOW-FROM."),
    "x-frame-options-not-implemented": (-20, "No X-Frame-Options or frame-ancestors."),
    "x-frame-options-header-invalid": (-20, "X-Frame-Options not recognised."),
    # Cross-Origin-Resource-Policy
    "corp-implemented-with-same-origin": (10, "CORP same-origin."),
    "corp-implemented-with-same-site": (10, "CORP same-site."),
    "corp-implemented-with-cross-origin": (0, "CORP cross-origin."),
    "corp-not-implemented": (0, "No CORP (defaults to cross-origin)."),
    "corp-header-invalid": (-5, "CORP not recognised or repeated."),
    # Cross-Origin-Opener-Policy
    "coop-implemented-with-same-origin": (10, "COOP same-origin."),
    "coop-implemented-with-same-origin-allow-popups": (10, "COOP same-origin-allow-popups."),
    "coop-implemented-with-noopener-allow-popups": (10, "COOP noopener-allow-popups."),
    "coop-implemented-with-unsafe-none": (0, "COOP unsafe-none."),
    "coop-not-implemented": (0, "No COOP."),
    "coop-header-invalid": (-5, "COOP not recognised or repeated."),
    # Cross-Origin-Embedder-Policy
    "coep-implemented-with-require-corp": (10, "COEP require-corp."),
    "coep-implemented-with-credentialless": (10, "COEP credentialless."),
    "coep-implemented-with-unsafe-none": (0, "COEP unsafe-none."),
    "coep-not-implemented": (0, "No COEP."),
    "coep-header-invalid": (-5, "COEP not recognised or repeated."),
}

# The lowest score of each grade; scores above 100 stay A+.
GRADE_FLOORS: Final = (
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


def modifier(result: str) -> int:
    return SCORE_TABLE[result][0]


def letter(score: int) -> str:
    return next(grade for floor, grade in GRADE_FLOORS if score >= floor)
