"""Worked examples: every Observatory result name, its published modifier, and whole sites.

The modifiers below are typed in from the Observatory's published score table (its
src/grader/charts.js, with the X-Frame-Options credit of algorithm 5 and the COOP/COEP
rows of algorithm 6), not read from our own table, so a wrong number in either shows up.
"""

from __future__ import annotations

import pytest

from tests.veritas.analysis.test_headers_observatory import CASES, csp, observatory_site
from veritas.analysis.headers import SCORE_TABLE, grade, security_headers
from veritas.page import Hop, Page, Site

PUBLISHED = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-but-duplicate-directives": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "csp-not-implemented-but-reporting-enabled": -25,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-all-redirects-preloaded": 0,
    "redirection-to-https": 0,
    "redirection-not-needed-no-http": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https-on-initial-redirection": -10,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "redirection-invalid-cert": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-preloaded": 5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "hsts-not-implemented-no-https": -20,
    "hsts-invalid-cert": -20,
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-implemented-and-external-scripts-loaded-securely": 5,
    "sri-not-implemented-response-not-html": 0,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-implemented-but-external-scripts-not-loaded-securely": -20,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "html-not-parseable": -20,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 5,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "corp-implemented-with-same-origin": 10,
    "corp-implemented-with-same-site": 10,
    "corp-implemented-with-cross-origin": 0,
    "corp-not-implemented": 0,
    "corp-header-invalid": -5,
    "coop-implemented-with-same-origin": 10,
    "coop-implemented-with-same-origin-allow-popups": 10,
    "coop-implemented-with-noopener-allow-popups": 10,
    "coop-implemented-with-unsafe-none": 0,
    "coop-not-implemented": 0,
    "coop-header-invalid": -5,
    "coep-implemented-with-require-corp": 10,
    "coep-implemented-with-credentialless": 10,
    "coep-implemented-with-unsafe-none": 0,
    "coep-not-implemented": 0,
    "coep-header-invalid": -5,
}
# The Observatory emits it only when its HTML parser throws; ours never does.
NEVER_PRODUCED = {"html-not-parseable"}

EXTRA_EXAMPLES = {
    "csp-implemented-but-duplicate-directives": (
        "content-security-policy",
        csp("default-src 'none'; report-uri /a; report-uri /b"),
    ),
    "redirection-invalid-cert": (
        "redirection",
        observatory_site(route_verified=False),
    ),
}


def _example(result: str) -> tuple[str, Site]:
    if result in EXTRA_EXAMPLES:
        return EXTRA_EXAMPLES[result]
    case = next(c for c in CASES if c.expected == result)
    return case.test, case.site


def test_our_table_lists_exactly_the_published_results() -> None:
    assert set(SCORE_TABLE) == set(PUBLISHED)


@pytest.mark.parametrize("result", sorted(set(PUBLISHED) - NEVER_PRODUCED))
def test_every_result_is_produced_with_its_published_modifier(result: str) -> None:
    test, site = _example(result)
    outcome = grade(site).outcome(test)
    assert (outcome.result, outcome.modifier) == (result, PUBLISHED[result])


def test_penalties_count_first_and_bonuses_only_from_90() -> None:
    # No CSP (-25): 75, so the XFO (+5), referrer (+5) and CORP (+10) credits are withheld.
    headers = (
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    )
    assert (grade(observatory_site(headers)).score, grade(observatory_site(headers)).grade) == (
        75,
        "B",
    )
    # With a CSP of default-src 'none' (+10) there is no penalty: 100 + 10+5+5+10 = 130.
    full = (*headers, ("Content-Security-Policy", "default-src 'none'"))
    assert grade(observatory_site(full)).score == 130


def test_coop_and_coep_credit_and_invalid_penalty() -> None:
    base = (
        ("Content-Security-Policy", "default-src 'self'"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
    )
    isolated = (
        *base,
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Embedder-Policy", "require-corp"),
    )
    # CSP no-unsafe +5, XFO +5, COOP +10, COEP +10.
    assert grade(observatory_site(isolated)).score == 130
    twice = (
        *base,
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )
    # The repeated COOP is invalid (-5), leaving 95 + 5 + 5 = 105.
    assert grade(observatory_site(twice)).score == 105


def test_a_preloaded_host_changes_hsts_and_redirection() -> None:
    site = observatory_site(
        host="accounts.firefox.com",
        route=("http://accounts.firefox.com/", "https://accounts.firefox.com/"),
    )
    graded = grade(site)
    assert graded.outcome("strict-transport-security").result == "hsts-preloaded"
    assert graded.outcome("redirection").result == "redirection-all-redirects-preloaded"
    # Preloaded, even a missing redirect is not a problem: browsers never use http there.
    bare = observatory_site(host="accounts.firefox.com", route=("http://accounts.firefox.com/",))
    assert grade(bare).outcome("redirection").result == "redirection-all-redirects-preloaded"


def test_hsts_needs_the_observatory_six_months_for_the_cookie_exemption() -> None:
    cookie = ("Set-Cookie", "prefs=1; Path=/")
    long_enough = observatory_site((cookie, ("Strict-Transport-Security", "max-age=15552000")))
    too_short = observatory_site((cookie, ("Strict-Transport-Security", "max-age=15551999")))
    assert grade(long_enough).outcome("cookies").result == (
        "cookies-without-secure-flag-but-protected-by-hsts"
    )
    assert grade(too_short).outcome("cookies").result == "cookies-without-secure-flag"


def test_frame_ancestors_in_meta_alone_neither_implements_csp_nor_framing() -> None:
    html = """<html><head><meta http-equiv="Content-Security-Policy"
    content="frame-ancestors 'none'"></head></html>"""
    graded = grade(observatory_site(html=html))
    assert graded.outcome("content-security-policy").result == "csp-not-implemented"
    assert graded.outcome("x-frame-options").result == "x-frame-options-not-implemented"


def test_findings_are_the_failed_tests_with_their_result_names() -> None:
    result = security_headers(observatory_site((("X-Frame-Options", "DENY, DENY"),)))
    kinds = {f.pattern_type for f in result.findings}
    assert "x_frame_options_header_invalid" in kinds
    assert "csp_not_implemented" in kinds
    assert result.details["tests_quantity"] == 12


# --- Whole sites --------------------------------------------------------------------------
# The response headers the Observatory's scanner test fixtures hold (test/fixtures/*.json,
# captured 2026-01-12), which its test grades mozilla.org B 75 and observatory.mozilla.org
# A+ 110 under algorithm 6. The http redirect chains and the CORS preflight answers were not
# taken from the fixtures (too large to read whole); the chains below are the ordinary
# http -> https ones and the preflights carry no CORS headers. Bodies are reduced to the
# script tags that matter to SRI.

OBSERVATORY_CSP = (
    "default-src 'self'; script-src 'report-sample' 'self' 'wasm-unsafe-eval' "
    "https://www.google-analytics.com/analytics.js https://*.googletagmanager.com "
    "assets.codepen.io production-assets.codepen.io https://js.stripe.com "
    "'sha256-XNBp89FG76amD8BqrJzyflxOF9PaWPqPqvJfKZPCv7M=' "
    "'sha256-YCNoU9DNiinACbd8n6UPyB/8vj0kXvhkOni9/06SuYw=' "
    "'sha256-PZjP7OR6mBEtnvXIZfCZ5PuOlxoDF1LDZL8aj8c42rw='; script-src-elem 'report-sample' "
    "'self' 'wasm-unsafe-eval' https://www.google-analytics.com/analytics.js "
    "https://*.googletagmanager.com assets.codepen.io production-assets.codepen.io "
    "https://js.stripe.com 'sha256-XNBp89FG76amD8BqrJzyflxOF9PaWPqPqvJfKZPCv7M=' "
    "'sha256-YCNoU9DNiinACbd8n6UPyB/8vj0kXvhkOni9/06SuYw=' "
    "'sha256-PZjP7OR6mBEtnvXIZfCZ5PuOlxoDF1LDZL8aj8c42rw='; style-src 'report-sample' 'self' "
    "'unsafe-inline'; object-src 'none'; base-uri 'self'; connect-src 'self' "
    "developer.allizom.org bcd.developer.allizom.org bcd.developer.mozilla.org "
    "updates.developer.allizom.org updates.developer.mozilla.org https://*.google-analytics.com "
    "https://*.analytics.google.com https://*.googletagmanager.com "
    "https://incoming.telemetry.mozilla.org https://observatory-api.mdn.allizom.net "
    "https://observatory-api.mdn.mozilla.net https://api.github.com/search/issues "
    "stats.g.doubleclick.net https://api.stripe.com; font-src 'self'; frame-src 'self' "
    "mdn.github.io *.mdnplay.dev *.mdnyalp.dev *.play.test.mdn.allizom.net "
    "https://v2.scrimba.com https://scrimba.com jsfiddle.net www.youtube-nocookie.com codepen.io "
    "survey.alchemer.com https://js.stripe.com; img-src 'self' data: *.githubusercontent.com "
    "*.googleusercontent.com *.gravatar.com mozillausercontent.com firefoxusercontent.com "
    "profile.stage.mozaws.net profile.accounts.firefox.com developer.mozilla.org mdn.dev "
    "wikipedia.org upload.wikimedia.org https://mdn.github.io/shared-assets/ https://mdn.dev/ "
    "https://*.google-analytics.com https://*.googletagmanager.com www.gstatic.com; "
    "manifest-src 'self'; media-src 'self' archive.org videos.cdn.mozilla.net "
    "https://mdn.github.io/shared-assets/; child-src 'self'; worker-src 'self';"
)
OBSERVATORY_HEADERS = (
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("content-security-policy", OBSERVATORY_CSP),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("strict-transport-security", "max-age=63072000"),
)
OBSERVATORY_BODY = """<!doctype html><html lang="en-US"><head><meta charset="UTF-8">
<title>HTTP Header Security Test - HTTP Observatory | MDN</title>
<script>try { document.documentElement.dataset.theme = "light dark"; } catch (e) {}</script>
<script src="/static/client/runtime.78ab025a4834993c.js" type="module"></script>
<script src="/static/client/index.84551a04d557157b.js" type="module"></script>
</head><body></body></html>"""

MOZILLA_POLICY = (
    "frame-src 'self' accounts.firefox.com js.stripe.com www.google-analytics.com "
    "www.googletagmanager.com www.youtube.com; script-src 'self' 'unsafe-eval' 'unsafe-inline' "
    "cdn.transcend.io js.stripe.com s.ytimg.com tagmanager.google.com transcend-cdn.com "
    "www.google-analytics.com www.googletagmanager.com www.mozilla.org www.youtube.com; "
    "form-action 'self' https://abdri3ttkb.execute-api.us-east-2.amazonaws.com "
    "https://accounts.firefox.com/ https://basket.mozilla.org; font-src 'self' www.mozilla.org; "
    "style-src 'self' 'unsafe-inline' cdn.transcend.io transcend-cdn.com www.mozilla.org; "
    "default-src 'self' *.mozilla.org; frame-ancestors 'none'; connect-src 'self' "
    "cdn.transcend.io https://abdri3ttkb.execute-api.us-east-2.amazonaws.com "
    "https://accounts.firefox.com/ https://basket.mozilla.org o1069899.ingest.sentry.io "
    "o1069899.sentry.io region1.google-analytics.com telemetry.transcend.io "
    "telemetry.us.transcend.io transcend-cdn.com www.google-analytics.com "
    "www.googletagmanager.com www.mozilla.org/submit/bedrock/; upgrade-insecure-requests; "
    "img-src 'self' blog.mozilla.org data: images.ctfassets.net www.google-analytics.com "
    "www.googletagmanager.com www.mozilla.org; object-src 'none'; media-src 'self' "
    "assets.mozilla.net videos.cdn.mozilla.net www.mozilla.org; base-uri 'none'"
)
MOZILLA_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", MOZILLA_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
    ("strict-transport-security", "max-age=31536000"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("content-security-policy-report-only", MOZILLA_POLICY),
    ("x-frame-options", "DENY"),
)
MOZILLA_BODY = """<!doctype html><html class="windows no-js" lang="en" dir="ltr"><head>
<meta charset="utf-8">
<script data-cfasync="false"
 src="https://transcend-cdn.com/cm/d556c3a1-e57c-4bdf-a490-390a1aebf6dd/airgap.js"></script>
<script src="https://www.mozilla.org/media/js/site.a066757d134f.js"></script>
<title>Internet for people, not profit — Mozilla Global</title></head><body></body></html>"""


def whole_site(host: str, final: str, headers: tuple[tuple[str, str], ...], body: str) -> Site:
    entry = observatory_site(headers, body, host=host, content_type="text/html").entry
    entry = Page(**{**{s: getattr(entry, s) for s in Page.__slots__}, "final_url": final})
    hops = (Hop(f"http://{host}/", 301, f"https://{host}/"),)
    if final != f"https://{host}/":
        hops += (Hop(f"https://{host}/", 301, final),)
    http = Page(
        f"http://{host}/",
        final,
        200,
        (),
        b"",
        False,
        redirects=hops,
        tls=entry.tls,
    )
    return Site((entry,), http=http, cors=Page(final, final, 200, (), b"", False))


def test_observatory_mozilla_org_is_a_plus_110() -> None:
    site = whole_site(
        "observatory.mozilla.org",
        "https://observatory.mozilla.org/",
        OBSERVATORY_HEADERS,
        OBSERVATORY_BODY,
    )
    graded = grade(site)
    # No penalty; +5 referrer-policy-private, +5 x-frame-options-sameorigin-or-deny.
    assert (graded.score, graded.grade) == (110, "A+")
    assert all(o.passed for o in graded.outcomes)
    assert graded.outcome("content-security-policy").result == (
        "csp-implemented-with-unsafe-inline-in-style-src-only"
    )


def test_mozilla_org_is_b_75() -> None:
    site = whole_site(
        "mozilla.org", "https://www.mozilla.org/en-US/", MOZILLA_HEADERS, MOZILLA_BODY
    )
    graded = grade(site)
    # -20 unsafe-inline in script-src, -5 airgap.js from another domain without SRI; the
    # credits (COOP +10, frame-ancestors +5, referrer +5) are withheld below 90.
    assert (graded.score, graded.grade) == (75, "B")
    failed = {o.result for o in graded.outcomes if not o.passed}
    assert failed == {
        "csp-implemented-with-unsafe-inline",
        "sri-not-implemented-but-external-scripts-loaded-securely",
    }


def test_cookies_a_jar_would_refuse_or_replace_do_not_count() -> None:
    elsewhere = observatory_site((("Set-Cookie", "sessionid=1; Domain=other.example; Path=/"),))
    assert grade(elsewhere).outcome("cookies").result == "cookies-not-found"
    suffix = observatory_site((("Set-Cookie", "sessionid=1; Domain=org; Path=/"),))
    assert grade(suffix).outcome("cookies").result == "cookies-not-found"
    replaced = observatory_site(
        (
            ("Set-Cookie", "sessionid=1; Path=/"),
            ("Set-Cookie", "sessionid=2; Path=/; Secure; HttpOnly; SameSite=Lax"),
        )
    )
    assert grade(replaced).outcome("cookies").result == (
        "cookies-secure-with-httponly-sessions-and-samesite"
    )


def test_meta_frame_ancestors_counts_for_framing_once_the_meta_policy_exists() -> None:
    # The Observatory's quirk, kept so the grade is the same: browsers would ignore it.
    html = """<html><head><meta http-equiv="Content-Security-Policy"
    content="default-src 'self'; frame-ancestors 'none'"></head></html>"""
    graded = grade(observatory_site(html=html))
    assert graded.outcome("content-security-policy").result == "csp-implemented-with-no-unsafe"
    assert graded.outcome("x-frame-options").result == "x-frame-options-implemented-via-csp"


def test_a_repeated_directive_is_invalid_unless_it_is_a_report_directive() -> None:
    repeated = grade(csp("default-src 'none'; script-src 'self'; script-src 'none'"))
    assert repeated.outcome("content-security-policy").result == "csp-header-invalid"
    reports = grade(csp("default-src 'none'; report-to a; report-to b"))
    assert reports.outcome("content-security-policy").result == (
        "csp-implemented-but-duplicate-directives"
    )
