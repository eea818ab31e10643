"""The `phishing` security module: URL signs of every fetched URL, and signs on the pages.

Credential phishing is a page that asks for a password or a card *and* lies about who asks.
So every page sign below is weighed by whether the page asks for credentials:

- a brand claim: the page names a brand where a visitor looks for who runs it (site name,
  logo, copyright line, the login form itself; on a stand-alone page also its title and
  text), and the host is none of the brand's domains;
- a generic clone: a login on a stand-alone page that names no one, neither a brand nor
  the site it is served from;
- threat language ("your account has been suspended") in the login form or on the login page;
- a login that posts to another site, unless that site is a sister of this one: the
  page's certificate names it, the page already runs its scripts, or one brand owns both;
- the brand's own logo or icon hot-linked from the brand's servers.

A page *about* a brand is not impersonating it: a news article or a shop page is woven into
its own site (many links to its own pages) and names its own publisher, so only its site
name, copyright line and login form are read for claims, never the title or the article.
The phishing verdict (the finding that caps the trust score) needs a credential form and
one of these signs; the URL model alone never concludes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from veritas.analysis import html
from veritas.analysis.brands import Brand, brand_list
from veritas.analysis.confusables import fold
from veritas.analysis.domain import host_of, registrable_domain, split_host
from veritas.analysis.forms import carries, certified_domains, sister_domains
from veritas.analysis.lexicon import THREAT_WORDS
from veritas.analysis.result import ModuleResult, score_from
from veritas.analysis.urls import UrlVerdict, analyse_url
from veritas.finding import Finding, Severity
from veritas.page import Page, Site

# URL signs that belong to the host, not to one address on it.
HOST_SIGNS = frozenset(
    {
        "punycode",
        "mixed_scripts",
        "lookalike_brand",
        "brand_in_unofficial_domain",
        "many_subdomains",
        "risky_tld",
        "odd_port",
    }
)
# Distinct links to its own site above which a page is part of a site, not a lone kit page.
EMBEDDED_LINKS = 10
# Characters of visible text read for claims and threats on a stand-alone page.
STANDALONE_TEXT = 3000
DAMNING = frozenset(
    {
        "brand_impersonation",
        "credential_clone",
        "threat_language_login",
        "login_posts_elsewhere",
        "offsite_brand_asset",
    }
)


@dataclass(frozen=True, slots=True)
class PageView:
    """What the phishing signs read from one page."""

    page: Page
    doc: html.Document
    domain: str
    login_forms: tuple[html.Form, ...]  # forms that carry a password or a card
    asks_credentials: bool  # a login form, or a visible password field outside any form
    standalone: bool  # not woven into a site of its own pages
    sisters: frozenset[str]  # registrable domains the page already trusts with its fields
    certified: frozenset[str]  # its own domain and those its certificate names

    @property
    def url(self) -> str:
        return self.page.final_url


def view(page: Page) -> PageView:
    doc = html.parse(page.text, page.final_url)
    domain = registrable_domain(host_of(page.final_url))
    login = tuple(f for f in doc.forms if carries(f).password or carries(f).payment)
    loose = any(f.type == "password" and not f.hidden for f in doc.fields)
    return PageView(
        page=page,
        doc=doc,
        domain=domain,
        login_forms=login,
        asks_credentials=bool(login) or loose,
        standalone=own_links(doc, domain) < EMBEDDED_LINKS,
        sisters=sister_domains(page, doc),
        certified=certified_domains(page),
    )


def own_links(doc: html.Document, domain: str) -> int:
    """Distinct pages of its own site the page links to (fragments and itself aside)."""
    here = doc.url.split("#", 1)[0]
    targets = {
        u.split("#", 1)[0]
        for u in doc.links
        if u.startswith("http") and registrable_domain(host_of(u)) == domain
    }
    targets.discard(here)
    return len(targets)


def phishing(site: Site) -> ModuleResult:
    views = [view(p) for p in site.pages if p.is_html]
    asking = {v.url for v in views if v.asks_credentials}
    urls = list(dict.fromkeys(u for p in site.pages for u in (p.url, p.final_url)))
    verdicts = [analyse_url(u) for u in urls]
    findings = [f for v in verdicts for f in _url_findings(v, v.url in asking)]
    page_signs = [f for v in views for f in page_findings(v)]
    findings.extend(page_signs)
    conclusion = _conclude(views, verdicts, page_signs)
    if conclusion is not None:
        findings.append(conclusion)
    details = {
        "verdict": "phishing" if conclusion else ("suspicious" if findings else "clean"),
        "url_probability": round(max((v.probability for v in verdicts), default=0.0), 3),
        "url_signs": sorted({s.kind for v in verdicts for s in v.signs}),
        "claimed_brands": sorted({b.name for v in views for b in claims(v)}),
    }
    return ModuleResult("phishing", score_from(findings), tuple(findings), details)


def _url_findings(verdict: UrlVerdict, asks_credentials: bool) -> Iterator[Finding]:
    serious = [s for s in verdict.signs if s.weight >= 1.5]
    if verdict.phishing:
        reasons = "; ".join(s.detail for s in verdict.signs) or "its overall shape"
        # The model alone is wrong on about 3% of honest addresses, and an address is only
        # dangerous where the page asks for secrets: low unless a rule agrees on a login page.
        severity: Severity = "medium" if serious and asks_credentials else "low"
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
        if sign.kind == "ip_host":
            continue  # the intel phase reports a bare address once for the whole site
        # A sign of the host is one finding per site, whatever page showed it.
        evidence = host_of(verdict.url) if sign.kind in HOST_SIGNS else verdict.url
        yield _f(
            f"url_{sign.kind}",
            "low",
            0.6,
            f"URL sign: {sign.detail}.",
            "Something about this web address is unusual.",
            evidence,
            verdict.url,
        )


# --- Brand claims ----------------------------------------------------------------------------


def claims(v: PageView) -> dict[Brand, str]:
    """Brands the page presents itself as, each with the first place it does so."""
    found: dict[Brand, str] = {}
    brands = brand_list()
    for where, text in _claim_places(v):
        for brand in brands.find(text):
            found.setdefault(brand, where)
    if not v.standalone:
        return found  # an article's pictures may well be a brand's logo
    names = [urlsplit(a).path.rsplit("/", 1)[-1] for a in _assets(v) if not a.startswith("data:")]
    for brand in brands.in_names(names):
        found.setdefault(brand, "logo or icon file name")
    return found


def _assets(v: PageView) -> list[str]:
    """The page's icons, and on a stand-alone page its logos (an article shows others')."""
    logos = [logo.src for logo in v.doc.logos] if v.standalone else []
    return list(dict.fromkeys([*v.doc.icons, *logos]))


def _claim_places(v: PageView) -> Iterator[tuple[str, str]]:
    doc = v.doc
    names = (doc.meta.get("og:site_name", ""), doc.meta.get("application-name", ""))
    yield "site name", " / ".join(names)
    yield "copyright line", doc.copyright
    for form in v.login_forms:
        yield "login form", form.text
    if v.standalone:
        yield "title", doc.title
        yield "logo", " / ".join(logo.alt for logo in doc.logos)
        yield "page text", doc.text[:STANDALONE_TEXT]


def names_host(v: PageView) -> bool:
    """Whether the page names the site it is served from: its domain's own label, or a
    subdomain that is a name (bakery.example-host.com), not a word every login has."""
    sub, label, _ = split_host(host_of(v.url))
    if len(label) < 3:
        return True  # too short to tell; never call such a page anonymous
    brands = brand_list()
    # A brand's name in a subdomain (paypal.example.top) is the oldest disguise, not a name.
    subs = [n for n in sub.split(".") if len(n) >= 4 and not brands.is_name(n)]
    names = [fold(n.replace("-", "")) for n in [label, *subs]]
    names = [n for n in names if n not in _GENERIC_LABELS]
    doc = v.doc
    words = " ".join([doc.title, doc.copyright, *doc.meta.values(), doc.text[:STANDALONE_TEXT]])
    squashed = fold("".join(c for c in words if c.isalnum()))
    return any(len(n) >= 3 and n in squashed for n in names)


# Subdomain words that name no one: a page saying "login" does not name login.example.com.
_GENERIC_LABELS = frozenset(
    fold(w)
    for w in (
        "www", "login", "signin", "secure", "account", "accounts", "auth", "mail", "webmail",
        "web", "app", "portal", "my", "online", "m", "mobile", "id", "sso", "support", "help",
        "service", "verify", "update", "home",
    )
)  # fmt: skip


def page_findings(v: PageView) -> list[Finding]:
    found: list[Finding] = []
    # Software that sites run under their own names (a WordPress or Roundcube login) says
    # which product asks, not who: such a page is judged like one that names no brand.
    claimed = {b: w for b, w in claims(v).items() if not _own(b, v) and not b.self_hosted}
    for brand, where in claimed.items():
        found.extend(_impersonation(v, brand, where))
    if v.asks_credentials:
        if not claimed and v.standalone and not names_host(v):
            found.append(_clone(v))
        found.extend(_threats(v))
        found.extend(_posts_elsewhere(v))
    found.extend(_offsite_assets(v))
    return found


def _own(brand: Brand, v: PageView) -> bool:
    """Whether the page is the brand's by its address or certificate; a kit that hot-links
    the brand's scripts runs the brand's code but is not the brand."""
    return any(brand.owns(d) for d in v.certified)


def _impersonation(v: PageView, brand: Brand, where: str) -> list[Finding]:
    domains = ", ".join(brand.domains[:2])
    if v.asks_credentials:
        return [
            _f(
                "brand_impersonation",
                "high",
                0.85,
                f"A login page presents itself as {brand.name} ({where}) but is served from "
                f"{v.domain}, which is not one of {brand.name}'s domains ({domains}).",
                f"This page asks for your login as {brand.name}, "
                f"but it is not {brand.name}'s website.",
                f"{brand.name} in the {where}",
                v.url,
            )
        ]
    if v.standalone and where in ("title", "site name", "logo"):
        # A lone page that calls itself a brand and never names its own site is posing.
        severity: Severity = "low" if names_host(v) else "medium"
        return [
            _f(
                "brand_claim",
                severity,
                0.6,
                f"The page presents itself as {brand.name} ({where}) but is served from "
                f"{v.domain}; it asks for no credentials.",
                f"This page uses the {brand.name} name but is not on {brand.name}'s website.",
                f"{brand.name} in the {where}",
                v.url,
            )
        ]
    return []


def _clone(v: PageView) -> Finding:
    return _f(
        "credential_clone",
        "high",
        0.7,
        f"A stand-alone login page on {v.domain} that names no one: neither a brand nor "
        "the site it is served from.",
        "This login page does not say whose account it is for, as fake login pages often do.",
        v.doc.title or (v.login_forms[0].text[:120] if v.login_forms else "password field"),
        v.url,
    )


def _threats(v: PageView) -> list[Finding]:
    near = [f.text for f in v.login_forms]
    if v.standalone:
        near += [v.doc.title, v.doc.text[:STANDALONE_TEXT]]
    text = " ".join(near).lower()
    threats = [w for w in THREAT_WORDS if w in text]
    if not threats:
        return []
    return [
        _f(
            "threat_language_login",
            "high",
            0.8,
            f"A login form next to threat language: {', '.join(threats[:4])}.",
            "The page scares you about your account to make you log in quickly.",
            ", ".join(threats[:4]),
            v.url,
        )
    ]


def _posts_elsewhere(v: PageView) -> list[Finding]:
    found = []
    brands = brand_list()
    for form in v.login_forms:
        target = registrable_domain(host_of(form.action))
        if not form.action.startswith("http") or not target or target in v.sisters:
            continue
        owner = brands.owner_of(target)
        if owner is not None and _own(owner, v):
            continue
        found.append(
            _f(
                "login_posts_elsewhere",
                "high",
                0.85,
                f"A login or payment form on {v.domain} posts to {target}, a site this page "
                "has no tie to (not in its certificate, none of its scripts come from there).",
                "What you type is sent to a different website.",
                form.action,
                v.url,
            )
        )
    return found


def _offsite_assets(v: PageView) -> list[Finding]:
    found = []
    brands = brand_list()
    for asset in _assets(v):
        owner = registrable_domain(host_of(asset))
        if not owner or owner in v.certified:
            continue
        brand = brands.owner_of(owner)
        if brand is None or _own(brand, v):
            continue
        severity: Severity = "high" if v.asks_credentials else "info"
        found.append(
            _f(
                "offsite_brand_asset",
                severity,
                0.75,
                f"The page's favicon or logo is loaded from {brand.name}'s own servers ({asset}).",
                "The page borrows another company's logo straight from its servers.",
                asset,
                v.url,
            )
        )
    return found


def _conclude(
    views: list[PageView], verdicts: list[UrlVerdict], signs: list[Finding]
) -> Finding | None:
    """The phishing verdict: a credential form plus at least one damning page sign."""
    asking = {v.url for v in views if v.asks_credentials}
    kinds = {
        s.pattern_type
        for s in signs
        if s.severity in ("high", "critical") and s.pattern_type in DAMNING and s.url in asking
    }
    if not kinds:
        return None
    if any(v.phishing for v in verdicts):
        kinds.add("phishing_url")
    where = next(v.url for v in views if v.asks_credentials)
    return _f(
        "phishing_verdict",
        "critical",
        0.9,
        "Credential-phishing page: a login or payment "
        f"form together with {', '.join(sorted(kinds))}.",
        "This looks like a fake page "
        "built to steal passwords or card numbers. Do not enter anything.",
        ", ".join(sorted(kinds)),
        where,
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
