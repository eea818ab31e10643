"""The Observatory's own test cases, as data: the same inputs must give the same result names.

Cases ported from the test suite of github.com/mdn/mdn-http-observatory (test/*.test.js:
csp, redirection, referrer-policy, subresource-integrity, cross-origin-opener-policy and
cross-origin-embedder-policy at 2026 revisions; cookies, cors, strict-transport-security,
x-content-type-options, x-frame-options and cross-origin-resource-policy at their 2024
revisions, the newest available to us). Each case rebuilds the suite's
default request set: the host mozilla.org answering on https://mozilla.org/ as text/html,
with http://mozilla.org/ redirecting to https://mozilla.org/ and on to https://www.mozilla.org/.
The HTML pages the suite reads from test/files are rewritten here from their descriptions.
"""

# The policies below are the suite's inputs, kept whole so they can be compared with it.
# ruff: noqa: E501

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from tests.veritas.analysis.sites import tls_for
from veritas.analysis.headers import PREFLIGHT_ORIGIN, grade
from veritas.page import Hop, Page, Site

HOST = "mozilla.org"
DEFAULT_ROUTE = ("http://mozilla.org/", "https://mozilla.org/", "https://www.mozilla.org/")
Headers = tuple[tuple[str, str], ...]


def observatory_site(
    headers: Headers = (),
    html: str = "",
    *,
    host: str = HOST,
    https: bool = True,
    verified: bool = True,
    route: tuple[str, ...] | None = DEFAULT_ROUTE,
    route_verified: bool = True,
    cors: Headers | None = (),
    content_type: str = "text/html",
) -> Site:
    """The site as the Observatory's test helper sets it up, with the changes a case makes."""
    scheme = "https" if https else "http"
    url = f"{scheme}://{host}/"
    tls = None
    if https:
        tls = tls_for(host, verify_error=None if verified else "self-signed certificate")
    entry = Page(
        url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", content_type), *headers),
        body=html.encode(),
        truncated=False,
        tls=tls,
    )
    http = _chain(route, route_verified) if https else None
    if not https and route is not None:
        entry = _chain(route, route_verified, entry)
    preflight = None if cors is None else Page(url, url, 200, cors, b"", False)
    return Site((entry,), http=http, cors=preflight)


def _chain(route: tuple[str, ...] | None, verified: bool, base: Page | None = None) -> Page | None:
    if route is None:
        return None
    hops = tuple(Hop(u, 301, nxt) for u, nxt in itertools.pairwise(route))
    final = route[-1]
    tls = None
    if final.startswith("https:"):
        tls = tls_for(HOST, verify_error=None if verified else "certificate has expired")
    if base is not None:
        return Page(**{**_fields(base), "url": route[0], "final_url": final, "redirects": hops})
    return Page(route[0], final, 200, (), b"", False, redirects=hops, tls=tls)


def _fields(page: Page) -> dict[str, object]:
    return {name: getattr(page, name) for name in Page.__slots__}


@dataclass(frozen=True)
class Case:
    source: str  # the Observatory test file and `it` the case comes from
    test: str
    expected: str
    site: Site = field(repr=False)


def csp(value: str, html: str = "", **kw: object) -> Site:
    return observatory_site((("Content-Security-Policy", value),), html, **kw)  # type: ignore[arg-type]


def meta_csp(*policies: str) -> str:
    tags = "".join(f'<meta http-equiv="Content-Security-Policy" content="{p}">' for p in policies)
    return f"<html><head>{tags}</head><body></body></html>"


# test_parse_http_equiv_headers_csp1.html and friends, rewritten
CSP1 = meta_csp("default-src 'none'; object-src 'none'")
CSP2 = meta_csp("default-src https:")
CSP_MULTIPLE = meta_csp(
    "default-src 'none', default-src 'none'", "default-src 'none', img-src 'self'"
)
CSP_NOT_ALLOWED = meta_csp("frame-ancestors 'none'")

CSP_CASES = [
    *[
        ("header invalid", v, "csp-header-invalid")
        for v in (
            "  ",
            "",
            "default-src 'none'; default-src 'none'",
            "default-src 'none'; img-src 'self'; default-src 'none'",
            "default-src 'none'; script-src 'strict-dynamic'",
            "defa",
        )
    ],
    *[
        ("insecure scheme broad and unsafe", v, "csp-implemented-with-unsafe-inline")
        for v in (
            "default-src 'none'; script-src https://*",
            "default-src 'none'; script-src 'unsafe-inline'",
        )
    ],
    *[
        ("insecure scheme", v, "csp-implemented-with-insecure-scheme")
        for v in (
            "default-src http://mozilla.org",
            "default-src 'none'; script-src http://mozilla.org",
            "default-src 'none'; script-src http://mozilla.org",
            "default-src 'none'; script-src ftp://mozilla.org",
        )
    ],
    *[
        (
            "insecure scheme in passive content only",
            v,
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
        )
        for v in (
            "default-src 'none'; img-src http://mozilla.org",
            "default-src 'self'; img-src ftp:",
            "default-src 'self'; img-src http:",
            "default-src 'none'; img-src https:; media-src http://mozilla.org",
            "default-src 'none'; img-src http: https:; script-src 'self'; style-src 'self'",
            "default-src 'none'; img-src 'none'; media-src http:; script-src 'self'; style-src 'self'",
            "default-src 'none'; img-src 'none'; media-src http:; script-src 'self'; style-src 'unsafe-inline'",
        )
    ],
    *[
        ("unsafe inline", v, "csp-implemented-with-unsafe-inline")
        for v in (
            "script-src 'unsafe-inline'",
            "script-src data:",
            "script-src http:",
            "script-src ftp:",
            "default-src 'unsafe-inline'",
            "default-src 'UNSAFE-INLINE'",
            "upgrade-insecure-requests",
            "script-src 'none'",
            "script-src https:",
            "script-src https://mozilla.org https:",
            "default-src https://mozilla.org https:",
            "default-src 'none'; script-src *",
            "default-src *; script-src *; object-src 'none'",
            "default-src 'none'; script-src 'none'; object-src *",
            "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'",
            "default-src 'none'; script-src 'unsafe-inline' http:",
            "object-src https:; script-src 'none'",
        )
    ],
    (
        "unsafe eval",
        "default-src 'none'; script-src 'unsafe-eval'",
        "csp-implemented-with-unsafe-eval",
    ),
    *[
        (
            "unsafe inline in style src only",
            v,
            "csp-implemented-with-unsafe-inline-in-style-src-only",
        )
        for v in (
            "object-src 'none'; script-src 'none'; style-src 'unsafe-inline'",
            "default-src 'none'; script-src https://mozilla.org; style-src 'unsafe-inline'",
            "default-src 'unsafe-inline'; script-src https://mozilla.org",
            "default-src 'none';;; ;;;style-src 'self' 'unsafe-inline'",
            "default-src 'none'; style-src data:",
            "default-src 'none'; style-src *",
            "default-src 'none'; style-src https:",
            "default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB=' 'unsafe-inline'",
        )
    ],
    *[
        ("no unsafe", v, "csp-implemented-with-no-unsafe")
        for v in (
            "default-src https://mozilla.org",
            "default-src https://mozilla.org;;; ;;;script-src 'none'",
            "object-src 'none'; script-src https://mozilla.org; style-src https://mozilla.org; upgrade-insecure-requests;",
            "object-src 'none'; script-src 'strict-dynamic' 'nonce-abc' 'unsafe-inline'; style-src 'none'",
            "object-src 'none'; style-src 'self';script-src 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBA='",
            "object-src 'none'; style-src 'self'; script-src 'unsafe-inline' "
            "'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBA=''sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB='",
            "object-src 'none'; script-src 'unsafe-inline' 'nonce-abc123' 'unsafe-inline'; style-src 'none'",
            "default-src https://mozilla.org; style-src 'unsafe-inline' 'nonce-abc123' 'unsafe-inline'",
            "default-src https://mozilla.org; style-src 'unsafe-inline' "
            "'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB=' 'unsafe-inline'",
        )
    ],
    *[
        ("no unsafe default src none", v, "csp-implemented-with-no-unsafe-default-src-none")
        for v in (
            "default-src",
            "default-src 'none'; script-src 'strict-dynamic' 'nonce-abc123' 'unsafe-inline'",
            "default-src 'none'; script-src https://mozilla.org; style-src https://mozilla.org; upgrade-insecure-requests;",
            "default-src 'none'; object-src https://mozilla.org",
            "default-src 'none'; script-src 'strict-dynamic' 'nonce-abc123'",
            "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123'",
            "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123' https://*",
            "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123' 'unsafe-inline'",
        )
    ],
    (
        "multiple CSP headers combined per RFC 9110",
        "default-src 'none'; script-src 'self', default-src 'none'; script-src 'self'",
        "csp-implemented-with-no-unsafe-default-src-none",
    ),
    (
        "multiple CSP headers with differing policies produce correct intersection",
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline', "
        "default-src 'none'; style-src 'self', "
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'",
        "csp-implemented-with-no-unsafe-default-src-none",
    ),
]


def _csp_cases() -> list[Case]:
    cases = [
        Case(f"csp.test.js: {name}", "content-security-policy", want, csp(v))
        for name, v, want in CSP_CASES
    ]
    none = "csp-implemented-with-no-unsafe-default-src-none"
    meta = [
        (
            "header default-src http: + meta default-src https:",
            csp("default-src http:", CSP2),
            none,
        ),
        ("meta only", observatory_site(html=CSP1), none),
        ("meta with several policies", observatory_site(html=CSP_MULTIPLE), none),
        ("header and meta both 'none'", csp("default-src 'none'", CSP1), none),
        ("header 'none' + conflicting meta", csp("default-src 'none'", CSP2), none),
        ("header img-src + meta default-src 'none'", csp("img-src 'none'", CSP1), none),
        (
            "frame-ancestors alone in meta",
            observatory_site(html=CSP_NOT_ALLOWED),
            "csp-not-implemented",
        ),
        (
            "frame-ancestors in meta, misspelt directive in header",
            csp("frame-anchestors 'none'", CSP_NOT_ALLOWED),
            "csp-implemented-with-unsafe-inline",
        ),
        ("missing", observatory_site(), "csp-not-implemented"),
        (
            "report only",
            observatory_site(
                (
                    (
                        "Content-Security-Policy-Report-Only",
                        "default-src 'none'; report-to /_/csp-reports",
                    ),
                )
            ),
            "csp-not-implemented-but-reporting-enabled",
        ),
    ]
    cases += [Case(f"csp.test.js: {n}", "content-security-policy", w, s) for n, s, w in meta]
    return cases


def cookie_site(*cookies: str, hsts: str | None = None) -> Site:
    headers = tuple(("Set-Cookie", c) for c in cookies)
    if hsts:
        headers += (("Strict-Transport-Security", hsts),)
    return observatory_site(headers)


def _cookie_cases() -> list[Case]:
    d = "Domain=mozilla.org; Path=/"
    rows = [
        ("no cookies", observatory_site(), "cookies-not-found"),
        (
            "secure with httponly sessions",
            cookie_site(
                f"SESSIONID=bar; {d}; Secure; HttpOnly",
                f"foo=bar; {d}; Secure",
                f"heroku-session-affinity=bar; {d}",
            ),
            "cookies-secure-with-httponly-sessions",
        ),
        (
            "secure with httponly sessions and samesite",
            cookie_site(
                f"SESSIONID_SAMESITE_STRICT=bar; {d}; Secure; HttpOnly; SameSite=Strict",
                f"SESSIONID_SAMESITE_LAX=bar; {d}; Secure; HttpOnly; SameSite=Lax",
                f"SESSIONID_SAMESITE_NONE=bar; {d}; Secure; HttpOnly; SameSite=None",
            ),
            "cookies-secure-with-httponly-sessions-and-samesite",
        ),
        (
            "samesite not awarded unless every cookie has it",
            cookie_site(
                f"SESSIONID_SAMESITE_STRICT=bar; {d}; Secure; HttpOnly; SameSite=Strict",
                f"SESSIONID_SAMESITE_NO_SAMESITE=bar; {d}; Secure; HttpOnly",
            ),
            "cookies-secure-with-httponly-sessions",
        ),
        (
            "anticsrf without samesite",
            cookie_site(f"CSRFTOKEN=bar; {d}; Secure; HttpOnly"),
            "cookies-anticsrf-without-samesite-flag",
        ),
        (
            "samesite empty",
            cookie_site(f"SESSIONID=bar; {d}; Secure; HttpOnly; SameSite="),
            "cookies-samesite-flag-invalid",
        ),
        (
            "samesite true",
            cookie_site(f"SESSIONID=bar; {d}; Secure; HttpOnly; SameSite=True"),
            "cookies-samesite-flag-invalid",
        ),
        (
            "samesite invalid",
            cookie_site(f"SESSIONID=bar; {d}; Secure; HttpOnly; SameSite=Invalid"),
            "cookies-samesite-flag-invalid",
        ),
        (
            "regular cookie no secure but hsts",
            cookie_site(f"foo=bar; {d}", hsts="max-age=15768000"),
            "cookies-without-secure-flag-but-protected-by-hsts",
        ),
        (
            "session cookie no secure but hsts",
            cookie_site(f"SESSIONID=bar; {d}; HttpOnly", hsts="max-age=15768000"),
            "cookies-session-without-secure-flag-but-protected-by-hsts",
        ),
        ("no secure", cookie_site(f"foo=bar; {d}"), "cookies-without-secure-flag"),
        (
            "session no httponly",
            cookie_site(f"SESSIONID=bar; {d}; Secure"),
            "cookies-session-without-httponly-flag",
        ),
        (
            "session no secure",
            cookie_site(f"SESSIONID=bar; {d}; HttpOnly"),
            "cookies-session-without-secure-flag",
        ),
        (
            "session no secure, no httponly",
            cookie_site(f"SESSIONID=bar; {d}"),
            "cookies-session-without-secure-flag",
        ),
    ]
    return [Case(f"cookies.test.js: {n}", "cookies", w, s) for n, s, w in rows]


def _cors_cases() -> list[Case]:
    rows = [
        ("not implemented", observatory_site(), "cross-origin-resource-sharing-not-implemented"),
        (
            "public access",
            observatory_site(cors=(("Access-Control-Allow-Origin", "*"),)),
            "cross-origin-resource-sharing-implemented-with-public-access",
        ),
        (
            "restricted access",
            observatory_site(cors=(("Access-Control-Allow-Origin", "https://mozilla.org"),)),
            "cross-origin-resource-sharing-implemented-with-restricted-access",
        ),
        (
            "universal access",
            observatory_site(
                cors=(
                    ("Access-Control-Allow-Origin", PREFLIGHT_ORIGIN),
                    ("Access-Control-Allow-Credentials", "true"),
                )
            ),
            "cross-origin-resource-sharing-implemented-with-universal-access",
        ),
    ]
    return [Case(f"cors.test.js: {n}", "cross-origin-resource-sharing", w, s) for n, s, w in rows]


def _redirection_cases() -> list[Case]:
    rows = [
        ("no http but https", observatory_site(route=None), "redirection-not-needed-no-http"),
        ("missing", observatory_site(route=("http://mozilla.org/",)), "redirection-missing"),
        (
            "not to https",
            observatory_site(route=("http://mozilla.org/", "http://www.mozilla.org/")),
            "redirection-not-to-https",
        ),
        (
            "not to https, longer chain",
            observatory_site(
                route=(
                    "http://mozilla.org/",
                    "http://www.mozilla.org/",
                    "http://www.mozilla.org/en/",
                )
            ),
            "redirection-not-to-https",
        ),
        ("proper redirection", observatory_site(), "redirection-to-https"),
        (
            "proper redirection with a port",
            observatory_site(route=("http://mozilla.org/", "https://mozilla.org:8443/")),
            "redirection-to-https",
        ),
        (
            "first redirection to http",
            observatory_site(
                route=("http://mozilla.org/", "http://www.mozilla.org/", "https://www.mozilla.org/")
            ),
            "redirection-not-to-https-on-initial-redirection",
        ),
        (
            "first redirection off host",
            observatory_site(route=("http://mozilla.org/", "https://www.mozilla.org/")),
            "redirection-off-host-from-http",
        ),
        (
            "all redirections preloaded",
            observatory_site(
                route=(
                    "http://cloudflare.com/",
                    "https://cloudflare.com/",
                    "https://www.cloudflare.com/",
                    "https://baz.cloudflare.com/foo",
                )
            ),
            "redirection-all-redirects-preloaded",
        ),
    ]
    return [Case(f"redirection.test.js: {n}", "redirection", w, s) for n, s, w in rows]


def referrer(value: str, html: str = "") -> Site:
    return observatory_site((("Referrer-Policy", value),), html)


REFERRER_META = (
    '<html><head><meta name="referrer" content="no-referrer, same-origin"></head></html>'
)


def _referrer_cases() -> list[Case]:
    rows: list[tuple[str, Site, str]] = [
        (f"private {v}", referrer(v), "referrer-policy-private")
        for v in (
            "no-referrer",
            "same-origin",
            "strict-origin",
            "STRICT-ORIGIN",
            "strict-origin-when-cross-origin",
        )
    ]
    rows += [
        ("meta only", observatory_site(html=REFERRER_META), "referrer-policy-private"),
        (
            "meta overrides an unsafe header",
            referrer("unsafe-url", REFERRER_META),
            "referrer-policy-private",
        ),
        ("missing", observatory_site(), "referrer-policy-not-implemented"),
        ("invalid", referrer("whimsy"), "referrer-policy-header-invalid"),
        *[
            (f"unsafe {v}", referrer(v), "referrer-policy-unsafe")
            for v in ("origin", "origin-when-cross-origin", "unsafe-url")
        ],
        (
            "last valid wins (safe middle)",
            referrer("origin-when-cross-origin, no-referrer, unsafe-url"),
            "referrer-policy-unsafe",
        ),
        (
            "last valid wins (safe first)",
            referrer("no-referrer, unsafe-url"),
            "referrer-policy-unsafe",
        ),
        ("valid then invalid", referrer("no-referrer, whimsy"), "referrer-policy-private"),
        ("all invalid", referrer("whimsy, whimsy1, whimsy2"), "referrer-policy-header-invalid"),
    ]
    return [Case(f"referrer-policy.test.js: {n}", "referrer-policy", w, s) for n, s, w in rows]


def hsts(value: str | None, **kw: object) -> Site:
    headers = (("Strict-Transport-Security", value),) if value is not None else ()
    return observatory_site(headers, **kw)  # type: ignore[arg-type]


def _hsts_cases() -> list[Case]:
    rows = [
        ("missing", hsts(None), "hsts-not-implemented"),
        ("no max-age", hsts("includeSubDomains; preload"), "hsts-header-invalid"),
        (
            "sent twice",
            hsts("max-age=15768000; includeSubDomains, max-age=15768000; includeSubDomains"),
            "hsts-header-invalid",
        ),
        (
            "no https",
            hsts("max-age=15768000", https=False, route=("http://mozilla.org/",)),
            "hsts-not-implemented-no-https",
        ),
        (
            "invalid cert",
            hsts("max-age=15768000; includeSubDomains; preload", verified=False),
            "hsts-invalid-cert",
        ),
        ("max age too low", hsts("max-age=86400"), "hsts-implemented-max-age-less-than-six-months"),
        (
            "implemented",
            hsts("max-age=15768000; includeSubDomains; preload"),
            "hsts-implemented-max-age-at-least-six-months",
        ),
        ("preloaded with subdomains", hsts(None, host="bugzilla.mozilla.org"), "hsts-preloaded"),
        ("preloaded", hsts(None, host="facebook.com"), "hsts-preloaded"),
        ("not preloaded", hsts(None, host="dropboxusercontent.com"), "hsts-not-implemented"),
    ]
    return [
        Case(f"strict-transport-security.test.js: {n}", "strict-transport-security", w, s)
        for n, s, w in rows
    ]


def page_with(*scripts: str) -> str:
    return "<html><head><title>t</title>" + "".join(scripts) + "</head><body><p>x</p></body></html>"


SHA = 'integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC" crossorigin="anonymous"'
SRI_FILES = {
    "no_scripts": page_with(),
    "sameorigin1": page_with(
        '<script src="/static/js/foo.js"></script>', "<script>var a = 1;</script>"
    ),
    "sameorigin2": page_with('<script src="https://www.mozilla.org/static/js/foo.js"></script>'),
    "sameorigin3": page_with('<script src="//mozilla.org/static/js/foo.js"></script>'),
    "impl_external_https1": page_with(
        f'<script src="https://ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js" {SHA}></script>'
    ),
    "impl_external_https2": page_with(
        f'<script src="https://localhost/static/js/foo.js" {SHA}></script>'
    ),
    "impl_sameorigin": page_with(f'<script src="/static/js/foo.js" {SHA}></script>'),
    "notimpl_external_https": page_with(
        '<script src="https://ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js"></script>'
    ),
    "impl_external_http": page_with(
        f'<script src="http://ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js" {SHA}></script>'
    ),
    "impl_external_noproto": page_with(
        f'<script src="//ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js" {SHA}></script>'
    ),
    "notimpl_external_http": page_with(
        '<script src="http://ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js"></script>'
    ),
    "notimpl_external_noproto": page_with(
        '<script src="//ajax.googleapis.com/ajax/libs/jquery/3/jquery.min.js"></script>'
    ),
}


def sri(name: str, **kw: object) -> Site:
    return observatory_site(html=SRI_FILES[name], **kw)  # type: ignore[arg-type]


def _sri_cases() -> list[Case]:
    plain_http = ("http://mozilla.org/",)
    via_http = ("http://mozilla.org/", "http://www.mozilla.org/", "https://www.mozilla.org/")
    rows = [
        ("no scripts", sri("no_scripts"), "sri-not-implemented-but-no-scripts-loaded"),
        (
            "not html",
            observatory_site(html='{"foo": "bar"}', content_type="application/json"),
            "sri-not-implemented-response-not-html",
        ),
        (
            "same origin",
            sri("sameorigin1"),
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        ),
        (
            "same origin, protocol-relative",
            sri("sameorigin3"),
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        ),
        (
            "same origin, protocol-relative, http not redirected",
            sri("sameorigin3", route=plain_http),
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        ),
        (
            "same second-level domain over https",
            sri("sameorigin2"),
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        ),
        (
            "external https with SRI",
            sri("impl_external_https1"),
            "sri-implemented-and-external-scripts-loaded-securely",
        ),
        (
            "intranet https with SRI",
            sri("impl_external_https2"),
            "sri-implemented-and-external-scripts-loaded-securely",
        ),
        (
            "same origin with SRI",
            sri("impl_sameorigin"),
            "sri-implemented-and-all-scripts-loaded-securely",
        ),
        (
            "external https without SRI",
            sri("notimpl_external_https"),
            "sri-not-implemented-but-external-scripts-loaded-securely",
        ),
        (
            "external http with SRI",
            sri("impl_external_http"),
            "sri-implemented-but-external-scripts-not-loaded-securely",
        ),
        (
            "external protocol-relative with SRI",
            sri("impl_external_noproto"),
            "sri-implemented-and-external-scripts-loaded-securely",
        ),
        (
            "external protocol-relative with SRI, http not redirected",
            sri("impl_external_noproto", route=plain_http),
            "sri-implemented-but-external-scripts-not-loaded-securely",
        ),
        (
            "external http without SRI",
            sri("notimpl_external_http"),
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
        ),
        (
            "external protocol-relative without SRI",
            sri("notimpl_external_noproto"),
            "sri-not-implemented-but-external-scripts-loaded-securely",
        ),
        (
            "external protocol-relative without SRI, http not redirected",
            sri("notimpl_external_noproto", route=plain_http),
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
        ),
        (
            "external protocol-relative without SRI, no http",
            sri("notimpl_external_noproto", route=None),
            "sri-not-implemented-but-external-scripts-loaded-securely",
        ),
        (
            "external protocol-relative without SRI, via an http hop",
            sri("notimpl_external_noproto", route=via_http),
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
        ),
    ]
    return [
        Case(f"subresource-integrity.test.js: {n}", "subresource-integrity", w, s)
        for n, s, w in rows
    ]


def one(header: str, *values: str, html: str = "") -> Site:
    return observatory_site(tuple((header, v) for v in values), html)


def _simple_cases() -> list[Case]:
    xcto, xfo, corp = "X-Content-Type-Options", "X-Frame-Options", "Cross-Origin-Resource-Policy"
    no_scripts = SRI_FILES["no_scripts"]
    rows = [
        (
            "x-content-type-options.test.js: missing",
            "x-content-type-options",
            observatory_site(),
            "x-content-type-options-not-implemented",
        ),
        (
            "x-content-type-options.test.js: whimsy",
            "x-content-type-options",
            one(xcto, "whimsy"),
            "x-content-type-options-header-invalid",
        ),
        (
            "x-content-type-options.test.js: twice",
            "x-content-type-options",
            one(xcto, "nosniff, nosniff"),
            "x-content-type-options-header-invalid",
        ),
        (
            "x-content-type-options.test.js: nosniff",
            "x-content-type-options",
            one(xcto, "nosniff"),
            "x-content-type-options-nosniff",
        ),
        (
            "x-content-type-options.test.js: nosniff with space",
            "x-content-type-options",
            one(xcto, "nosniff "),
            "x-content-type-options-nosniff",
        ),
        (
            "x-frame-options.test.js: missing",
            "x-frame-options",
            observatory_site(html=no_scripts),
            "x-frame-options-not-implemented",
        ),
        (
            "x-frame-options.test.js: whimsy",
            "x-frame-options",
            one(xfo, "whimsy", html=no_scripts),
            "x-frame-options-header-invalid",
        ),
        (
            "x-frame-options.test.js: twice",
            "x-frame-options",
            one(xfo, "SAMEORIGIN, SAMEORIGIN", html=no_scripts),
            "x-frame-options-header-invalid",
        ),
        (
            "x-frame-options.test.js: allow-from",
            "x-frame-options",
            one(xfo, "ALLOW-FROM https://mozilla.org", html=no_scripts),
            "x-frame-options-allow-from-origin",
        ),
        (
            "x-frame-options.test.js: deny",
            "x-frame-options",
            one(xfo, "DENY", html=no_scripts),
            "x-frame-options-sameorigin-or-deny",
        ),
        (
            "x-frame-options.test.js: deny with space",
            "x-frame-options",
            one(xfo, "DENY ", html=no_scripts),
            "x-frame-options-sameorigin-or-deny",
        ),
        (
            "x-frame-options.test.js: via CSP",
            "x-frame-options",
            observatory_site(
                ((xfo, "DENY"), ("Content-Security-Policy", "frame-ancestors https://mozilla.org")),
                no_scripts,
            ),
            "x-frame-options-implemented-via-csp",
        ),
        (
            "cross-origin-resource-policy.test.js: missing",
            "cross-origin-resource-policy",
            observatory_site(),
            "corp-not-implemented",
        ),
        (
            "cross-origin-resource-policy.test.js: whimsy",
            "cross-origin-resource-policy",
            one(corp, "whimsy"),
            "corp-header-invalid",
        ),
        (
            "cross-origin-resource-policy.test.js: same-site",
            "cross-origin-resource-policy",
            one(corp, "same-site"),
            "corp-implemented-with-same-site",
        ),
        (
            "cross-origin-resource-policy.test.js: same-origin",
            "cross-origin-resource-policy",
            one(corp, "same-origin"),
            "corp-implemented-with-same-origin",
        ),
        (
            "cross-origin-resource-policy.test.js: cross-origin",
            "cross-origin-resource-policy",
            one(corp, "cross-origin"),
            "corp-implemented-with-cross-origin",
        ),
    ]
    return [Case(n, t, w, s) for n, t, s, w in rows]


def _isolation_cases() -> list[Case]:
    coop, coep = "Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy"
    cases: list[Case] = []
    coop_rows = [
        ((), "coop-not-implemented"),
        (("whimsy",), "coop-header-invalid"),
        (("same-origin",), "coop-implemented-with-same-origin"),
        (("same-origin-allow-popups",), "coop-implemented-with-same-origin-allow-popups"),
        (("noopener-allow-popups",), "coop-implemented-with-noopener-allow-popups"),
        (("unsafe-none",), "coop-implemented-with-unsafe-none"),
        (('same-origin; report-to="coop-endpoint"',), "coop-implemented-with-same-origin"),
        (
            ('same-origin-allow-popups; report-to="coop-endpoint"',),
            "coop-implemented-with-same-origin-allow-popups",
        ),
        (("same-origin; report-to",), "coop-implemented-with-same-origin"),
        (("same-origin; report-to=coop endpoint",), "coop-header-invalid"),
        (('"same-origin"',), "coop-header-invalid"),
        (("same-origin", "unsafe-none"), "coop-header-invalid"),
    ]
    for values, want in coop_rows:
        site = one(coop, *values) if values else observatory_site()
        cases.append(
            Case(
                f"cross-origin-opener-policy.test.js: {values}",
                "cross-origin-opener-policy",
                want,
                site,
            )
        )
    coep_rows = [
        ((), "coep-not-implemented"),
        (("whimsy",), "coep-header-invalid"),
        (("Require-Corp",), "coep-header-invalid"),
        (("REQUIRE-CORP",), "coep-header-invalid"),
        (("require-corp",), "coep-implemented-with-require-corp"),
        (("credentialless",), "coep-implemented-with-credentialless"),
        (("unsafe-none",), "coep-implemented-with-unsafe-none"),
        (('require-corp; report-to="coep-endpoint"',), "coep-implemented-with-require-corp"),
        (('credentialless; report-to="coep-endpoint"',), "coep-implemented-with-credentialless"),
        (("require-corp; report-to",), "coep-implemented-with-require-corp"),
        (("require-corp; report-to=coep endpoint",), "coep-header-invalid"),
        (('"require-corp"',), "coep-header-invalid"),
        (("require-corp", "unsafe-none"), "coep-header-invalid"),
    ]
    for values, want in coep_rows:
        site = one(coep, *values) if values else observatory_site()
        cases.append(
            Case(
                f"cross-origin-embedder-policy.test.js: {values}",
                "cross-origin-embedder-policy",
                want,
                site,
            )
        )
    return cases


CASES = [
    *_csp_cases(),
    *_cookie_cases(),
    *_cors_cases(),
    *_redirection_cases(),
    *_referrer_cases(),
    *_hsts_cases(),
    *_sri_cases(),
    *_simple_cases(),
    *_isolation_cases(),
]


@pytest.mark.parametrize("case", CASES, ids=[c.source for c in CASES])
def test_observatory_case_gives_the_observatory_result(case: Case) -> None:
    assert grade(case.site).outcome(case.test).result == case.expected


def test_every_observatory_test_file_is_covered() -> None:
    files = {c.source.split(":")[0] for c in CASES}
    assert len(files) == 12
    assert len(CASES) >= 150
