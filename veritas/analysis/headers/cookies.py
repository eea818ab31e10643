"""Cookies, judged cookie by cookie; the worst finding names the result.

A session cookie is one whose name contains "login" or "sess"; an anti-CSRF cookie one
whose name contains "csrf". Cookies on the Observatory's exclusion list are skipped, and
so are those a cookie jar refuses to keep: a Domain the host is not in, or a public suffix.
A cookie set twice counts once, as last set. A missing Secure flag is forgiven down to a
smaller penalty only when the HSTS test passes, that is with a max-age of at least
15552000 seconds or a preloaded host.
"""

from __future__ import annotations

from dataclasses import dataclass

from veritas.analysis.domain import host_of, split_host
from veritas.analysis.headers.exchange import Exchange, field_list
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "cookies"
# Heroku's load-balancer cookie, which the site owner cannot change.
EXCLUDED = frozenset(("heroku-session-affinity",))
SAMESITE_VALUES = ("lax", "strict", "none")
# From least to most serious: a cookie's finding replaces the current one only if worse.
SERIOUSNESS = (
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
)


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str
    secure: bool
    httponly: bool
    samesite: str | None  # lax, strict or none; None when absent or not one of those
    domain: str = ""  # the Domain attribute without its leading dot; "" when absent
    path: str = "/"


def parse_set_cookie(value: str) -> Cookie | None:
    """A cookie as a browser's cookie jar keeps it; None when it has no name."""
    first, *attributes = value.split(";")
    name, equals, _ = first.partition("=")
    if not equals or not name.strip():
        return None
    flags: dict[str, str] = {}
    for attribute in attributes:
        key, _, val = attribute.strip().partition("=")
        flags[key.strip().lower()] = val.strip()
    samesite = flags.get("samesite", "").lower()
    return Cookie(
        name=name.strip(),
        secure="secure" in flags,
        httponly="httponly" in flags,
        samesite=samesite if samesite in SAMESITE_VALUES else None,
        domain=flags.get("domain", "").lstrip(".").lower(),
        path=flags.get("path") or "/",
    )


def kept(cookies: list[Cookie], host: str) -> list[Cookie]:
    """The cookies a jar keeps for `host`: the last of each name, domain and path."""
    jar: dict[tuple[str, str, str], Cookie] = {}
    for cookie in cookies:
        if cookie.name in EXCLUDED or not _domain_allowed(cookie.domain, host):
            continue
        jar[(cookie.name, cookie.domain or host, cookie.path)] = cookie
    return list(jar.values())


def _domain_allowed(domain: str, host: str) -> bool:
    if not domain:
        return True
    if not (host == domain or host.endswith("." + domain)):
        return False
    _, label, suffix = split_host(domain)
    return bool(label) or not suffix


def invalid_samesite(value: str) -> bool:
    """A SameSite attribute with no value or an unknown one."""
    for part in value.strip().split(";"):
        key, _, val = part.strip().partition("=")
        known = val.strip().lower() in SAMESITE_VALUES
        if key.strip().lower() == "samesite" and not known:
            return True
    return False


def judge(exchange: Exchange, hsts_passed: bool) -> TestOutcome:
    raw = field_list(exchange.headers, "set-cookie")
    worst: str | None = None
    if any(invalid_samesite(v) for v in raw):
        worst = "cookies-samesite-flag-invalid"
    parsed = [c for v in raw if (c := parse_set_cookie(v))]
    cookies = kept(parsed, host_of(exchange.url))
    if not cookies:
        return outcome(NAME, "cookies-not-found", True)
    for cookie in cookies:
        for finding in _findings(cookie, hsts_passed):
            worst = _worse(finding, worst)
    if worst is None:
        everywhere = all(c.samesite for c in cookies)
        result = "cookies-secure-with-httponly-sessions" + ("-and-samesite" if everywhere else "")
        return outcome(NAME, result, True)
    return outcome(NAME, worst, False, _evidence(cookies))


def _findings(cookie: Cookie, hsts: bool) -> list[str]:
    lowered = cookie.name.lower()
    session = "login" in lowered or "sess" in lowered
    found: list[str] = []
    if not cookie.secure:
        if cookie.samesite == "none":
            found.append("cookies-samesite-flag-invalid")  # browsers drop it
        found.append(
            "cookies-without-secure-flag-but-protected-by-hsts"
            if hsts
            else "cookies-without-secure-flag"
        )
    if "csrf" in lowered and not cookie.samesite:
        found.append("cookies-anticsrf-without-samesite-flag")
    if session and not cookie.secure:
        found.append(
            "cookies-session-without-secure-flag-but-protected-by-hsts"
            if hsts
            else "cookies-session-without-secure-flag"
        )
    if session and not cookie.httponly:
        found.append("cookies-session-without-httponly-flag")
    return found


def _worse(new: str, current: str | None) -> str:
    if current is None or SERIOUSNESS.index(new) > SERIOUSNESS.index(current):
        return new
    return current


def _evidence(cookies: list[Cookie]) -> str:
    return "Set-Cookie: " + ", ".join(c.name for c in cookies[:5])
