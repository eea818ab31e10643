"""Header grading against worked Observatory examples computed from the public modifiers."""

from __future__ import annotations

from tests.veritas.analysis.sites import GOOD_HEADERS, clean_site, page
from veritas.analysis.headers import Grade, letter, security_headers
from veritas.analysis.headers import grade as grade_site
from veritas.page import Page, Site


def grade(p: Page) -> Grade:
    return grade_site(Site((p,)))


def _results(p: Page) -> dict[str, tuple[str, int]]:
    return {o.test: (o.result, o.modifier) for o in grade(p).outcomes}


def test_bare_https_page_scores_30_d() -> None:
    # 100 - 25 (no CSP) - 20 (no HSTS) - 5 (no nosniff) - 20 (no XFO) = 30.
    graded = grade(page("https://bare.example.com/"))
    assert (graded.score, graded.grade) == (30, "D")


def test_hardened_page_gets_every_bonus_and_a_plus() -> None:
    # No penalties, so bonuses count: CSP none +10, cookies +5, referrer +5, XFO via CSP +5,
    # CORP same-origin +10 = 135.
    graded = grade_site(clean_site())
    assert (graded.score, graded.grade) == (135, "A+")
    result = security_headers(clean_site())
    assert result.score == 100
    assert result.findings == ()


def test_bonuses_are_withheld_below_90() -> None:
    # unsafe-inline costs 20, so the score is 80 and the +5 referrer and +5 DENY bonuses are
    # not added.
    headers = (
        ("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    )
    graded = grade(page("https://a.example.com/", headers=headers))
    assert (graded.score, graded.grade) == (80, "B+")


def test_insecure_http_page_with_session_cookie_bottoms_out_at_f() -> None:
    # -25 CSP, -40 session cookie over http, -20 no redirect to https, -20 no HSTS,
    # -5 nosniff, -20 XFO: below zero, clamped to 0.
    p = page("http://shop.example.com/", headers=(("Set-Cookie", "sessionid=1; Path=/"),))
    results = _results(p)
    assert results["cookies"] == ("cookies-session-without-secure-flag", -40)
    assert results["redirection"] == ("redirection-missing", -20)
    assert results["strict-transport-security"] == ("hsts-not-implemented-no-https", -20)
    assert (grade(p).score, grade(p).grade) == (0, "F")


def test_short_hsts_and_unsafe_referrer_are_penalised() -> None:
    headers = (
        *GOOD_HEADERS[:1],
        ("Strict-Transport-Security", "max-age=86400"),
        ("Referrer-Policy", "unsafe-url"),
        ("X-Content-Type-Options", "nosniff"),
    )
    results = _results(page("https://a.example.com/", headers=headers))
    assert results["strict-transport-security"][1] == -10
    assert results["referrer-policy"] == ("referrer-policy-unsafe", -5)


def test_external_script_over_http_without_sri_costs_50() -> None:
    body = '<html><body><script src="http://cdn.other.example.net/x.js"></script></body></html>'
    results = _results(page("https://a.example.com/", body))
    assert results["subresource-integrity"] == (
        "sri-not-implemented-and-external-scripts-not-loaded-securely",
        -50,
    )


def test_wildcard_cors_is_public_even_with_credentials() -> None:
    # Browsers refuse credentials with "*", so the Observatory calls it public, not universal.
    headers = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true"))
    assert _results(page("https://a.example.com/", headers=headers))[
        "cross-origin-resource-sharing"
    ] == ("cross-origin-resource-sharing-implemented-with-public-access", 0)


def test_grade_chart_boundaries() -> None:
    assert [letter(s) for s in (135, 100, 99, 90, 85, 80, 70, 65, 60, 50, 45, 40, 30, 25, 24)] == [
        "A+",
        "A+",
        "A",
        "A",
        "A-",
        "B+",
        "B",
        "B-",
        "C+",
        "C",
        "C-",
        "D+",
        "D",
        "D-",
        "F",
    ]


def test_each_failed_test_is_one_finding_with_its_reason() -> None:
    result = security_headers(type(clean_site())((page("https://bare.example.com/"),)))
    kinds = sorted(f.pattern_type for f in result.findings)
    assert kinds == [
        "csp_not_implemented",
        "hsts_not_implemented",
        "x_content_type_options_not_implemented",
        "x_frame_options_not_implemented",
    ]
    assert result.details["grade"] == "D"
