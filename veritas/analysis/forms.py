"""The `form_validation` security module: where forms send what visitors type into them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from veritas.analysis import html
from veritas.analysis.domain import host_of, is_ip, registrable_domain
from veritas.analysis.result import ModuleResult, score_from
from veritas.finding import Finding, Severity
from veritas.page import Page, Site

_PAYMENT_NAME = re.compile(
    r"card|cc-?num|ccn|cvv|cvc|csc|expir|exp-?date|iban|routing|sort-?code", re.I
)
_PERSONAL_NAME = re.compile(r"ssn|social|passport|birth|dob|tax-?id|pin\b", re.I)


@dataclass(frozen=True, slots=True)
class Carries:
    """What kind of data a form asks for: this sets how bad sending it astray is."""

    password: bool
    payment: bool
    personal: bool

    @property
    def sensitive(self) -> bool:
        return self.password or self.payment or self.personal

    @property
    def label(self) -> str:
        kinds = [
            k
            for k, on in (
                ("password", self.password),
                ("payment", self.payment),
                ("personal", self.personal),
            )
            if on
        ]
        return " and ".join(kinds) or "ordinary"


def carries(form: html.Form) -> Carries:
    fields = [f for f in form.fields if f.type not in ("submit", "button", "image", "reset")]
    return Carries(
        password=any(f.type == "password" or "password" in f.autocomplete for f in fields),
        payment=any(
            f.autocomplete.startswith("cc-") or _PAYMENT_NAME.search(f.name) for f in fields
        ),
        personal=any(_PERSONAL_NAME.search(f.name) for f in fields),
    )


def sister_domains(page: Page, doc: html.Document) -> frozenset[str]:
    """Registrable domains this page already trusts as its own organisation's.

    The page's certificate names them, or the page runs their scripts and stylesheets (code
    that can read every field anyway), so a login posting there sends nothing to a stranger:
    heraldsun.com.au loading news.com.au's scripts and posting its login to idp.news.com.au.
    """
    active = {registrable_domain(host_of(r.url)) for r in doc.resources if r.active}
    return certified_domains(page) | (active - {""})


def certified_domains(page: Page) -> frozenset[str]:
    """The page's own registrable domain and every one its certificate names."""
    domain = registrable_domain(host_of(page.final_url))
    named = {registrable_domain(n.removeprefix("*.")) for n in page.tls.san} if page.tls else set()
    return frozenset((named | {domain}) - {""})


def form_validation(site: Site) -> ModuleResult:
    findings: list[Finding] = []
    forms = 0
    for page in site.pages:
        if not page.is_html:
            continue
        doc = html.parse(page.text, page.final_url)
        forms += len(doc.forms)
        sisters = sister_domains(page, doc)
        for form in doc.forms:
            findings.extend(form_findings(form, page, sisters))
    return ModuleResult("form_validation", score_from(findings), tuple(findings), {"forms": forms})


def form_findings(
    form: html.Form, page: Page, sisters: frozenset[str] = frozenset()
) -> list[Finding]:
    data = carries(form)
    url = page.final_url
    found: list[Finding] = []
    if data.password or data.payment:
        found.extend(_plain_http(form, data, url))
    action = form.action.lower()
    if action.startswith("mailto:"):
        severity: Severity = "medium" if data.sensitive else "low"
        found.append(
            _f(
                "mailto_form",
                severity,
                f"The form sends {data.label} data by e-mail ({form.raw_action}).",
                "What you type is e-mailed unencrypted instead of going to the site.",
                form,
                url,
            )
        )
        return found
    if action.startswith(("http:", "https:")):
        found.extend(_destination(form, data, url, sisters))
    if form.method == "get" and (data.password or data.payment):
        found.append(
            _f(
                "sensitive_data_by_get",
                "medium",
                f"{data.label.capitalize()} fields are sent in the URL (method GET).",
                "Your secrets would end up in the address bar, browser history and server logs.",
                form,
                url,
            )
        )
    return found


def _plain_http(form: html.Form, data: Carries, url: str) -> list[Finding]:
    insecure_page = url.startswith("http:")
    insecure_action = form.action.startswith("http:")
    if not (insecure_page or insecure_action):
        return []
    severity: Severity = "critical" if data.payment else "high"
    where = "page" if insecure_page else "form action"
    return [
        _f(
            f"{'payment' if data.payment else 'password'}_over_http",
            severity,
            f"A {data.label} form on an http {where}.",
            "Anything you type here travels unencrypted and can be read by others on the network.",
            form,
            url,
        )
    ]


def _destination(
    form: html.Form, data: Carries, url: str, sisters: frozenset[str]
) -> list[Finding]:
    target = host_of(form.action)
    if is_ip(target):
        severity: Severity = "high" if data.sensitive else "medium"
        return [
            _f(
                "form_posts_to_ip",
                severity,
                f"The form sends {data.label} data to the bare IP address {target}.",
                "The form sends what you type to an unnamed server.",
                form,
                url,
            )
        ]
    mine, theirs = registrable_domain(host_of(url)), registrable_domain(target)
    if not theirs or mine == theirs or theirs in sisters:
        return []
    if data.password:
        return [
            _f(
                "credentials_to_other_domain",
                "critical",
                f"A password form on {mine} posts to {theirs}.",
                f"Your password would be sent to a different website ({theirs}).",
                form,
                url,
            )
        ]
    severity = "high" if data.sensitive else "low"
    return [
        _f(
            "form_to_other_domain",
            severity,
            f"A form carrying {data.label} data posts from {mine} to {theirs}.",
            f"What you type here is sent to {theirs}.",
            form,
            url,
        )
    ]


# Positional, in the order of Finding's own fields, so each check reads as one line.
def _f(kind: str, severity: Severity, desc: str, plain: str, form: html.Form, url: str) -> Finding:  # noqa: PLR0917
    evidence = f'<form action="{form.raw_action}" method="{form.method}"> at {form.where}'
    return Finding("security", kind, severity, 0.9, desc, plain, evidence, url)
