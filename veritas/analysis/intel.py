"""Domain facts that need no outside service: domain, addresses, certificate, third parties."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from veritas.analysis import html
from veritas.analysis.domain import host_of, is_ip, registrable_domain
from veritas.analysis.phishing import claims, view
from veritas.analysis.result import IntelReport
from veritas.finding import Finding
from veritas.page import Site

NEW_CERTIFICATE_DAYS = 7
_YEAR = re.compile(r"(19|20)\d{2}")


def gather_intel(site: Site, addresses: Sequence[str], now: float | None = None) -> IntelReport:
    entry = site.entry
    domain = registrable_domain(host_of(entry.final_url))
    when = time.time() if now is None else now
    pages = [p for p in site.pages if p.is_html]
    docs = [html.parse(p.text, p.final_url) for p in pages]
    hosts = Counter(
        host_of(u)
        for d in docs
        for u in [*d.links, *(r.url for r in d.resources)]
        if u.startswith("http")
    )
    third = sorted({h for h in hosts if h and registrable_domain(h) != domain})
    facts: dict[str, Any] = {
        "domain": domain,
        "host": host_of(entry.final_url),
        "addresses": list(dict.fromkeys([*addresses, *(p.ip for p in site.pages if p.ip)])),
        "https": entry.final_url.startswith("https:"),
        "links": sum(len(d.links) for d in docs),
        "third_party_hosts": third[:50],
        "third_party_domains": sorted({registrable_domain(h) for h in third})[:50],
        "claimed_brands": sorted({b.name for p in pages for b in claims(view(p))}),
        "copyright": next((d.copyright for d in docs if d.copyright), ""),
    }
    facts |= _certificate(site, when)
    return IntelReport(facts, tuple(_findings(facts, docs, entry.final_url)))


def _certificate(site: Site, now: float) -> dict[str, Any]:
    info = site.entry.tls
    if info is None:
        return {"certificate": None}
    age = None if info.not_before is None else int((now - info.not_before) // 86400)
    return {
        "certificate": {
            "issuer": info.issuer.get("organizationName") or info.issuer.get("commonName"),
            "age_days": age,
            "valid_days": None
            if info.not_before is None or info.not_after is None
            else int((info.not_after - info.not_before) // 86400),
        }
    }


def _findings(facts: dict[str, Any], docs: list[html.Document], url: str) -> list[Finding]:
    found = []
    if is_ip(facts["host"]):
        found.append(
            Finding(
                "intel",
                "ip_address_site",
                "medium",
                0.9,
                f"The site is served from the bare address {facts['host']}, with no domain name.",
                "This site has no proper web address.",
                facts["host"],
                url,
            )
        )
    cert = facts.get("certificate") or {}
    age = cert.get("age_days")
    if age is not None and 0 <= age < NEW_CERTIFICATE_DAYS:
        found.append(
            Finding(
                "intel",
                "new_certificate",
                "low",
                0.6,
                f"The certificate was issued {age} day(s) ago.",
                "The site's certificate is brand new; scam sites are often only days old.",
                f"age {age} days",
                url,
            )
        )
    # A claimed brand on a foreign domain is the phishing module's finding, weighed there
    # against what the page asks for; here it stays a fact.
    found.extend(_copyright(facts["copyright"], url))
    return found


def _copyright(notice: str, url: str) -> list[Finding]:
    years = [int(m.group(0)) for m in _YEAR.finditer(notice)]
    if not years:
        return []
    latest = max(years)
    if latest < time.gmtime().tm_year - 5:
        return [
            Finding(
                "intel",
                "stale_copyright",
                "info",
                0.5,
                f"The newest copyright year is {latest}.",
                "The site may not have been kept up to date.",
                notice,
                url,
            )
        ]
    return []
