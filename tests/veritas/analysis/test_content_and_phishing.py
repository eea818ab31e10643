"""Dark patterns, site type, phishing signs and intel on pages written for the purpose."""

from __future__ import annotations

import pytest

from tests.veritas.analysis.sites import clean_site, phishing_site, shop_site
from veritas.analysis import analyse_content, classify_site, gather_intel, iter_content
from veritas.analysis.darkpatterns import detect
from veritas.analysis.phishing import phishing
from veritas.analysis.urls import analyse_url, signs


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Hurry, only 2 left in stock!", "Scarcity"),
        ("Sale ends in 01:59:59", "Urgency"),
        ("Tom from Bristol just purchased this 3 minutes ago", "Social Proof"),
        ("No thanks, I'd rather pay full price", "Misdirection"),
    ],
)
def test_detector_names_the_category(text: str, category: str) -> None:
    found = detect(text)
    assert found is not None
    assert found.category == category


@pytest.mark.parametrize(
    "text",
    [
        "Contact us",
        "Free delivery on orders over 50 pounds",
        "$59.99",
        "Our bakery opened on Mill Lane in 1998.",
        "10000 characters left",
        "Posted on March 10 at 08:05",
        "2019-11-20 14:35:08",
        "Standard shipping $4.99",
    ],
)
def test_detector_leaves_ordinary_text_alone(text: str) -> None:
    assert detect(text) is None


def test_pushy_shop_page_yields_quoted_findings_with_locations() -> None:
    findings = analyse_content(shop_site().entry)
    kinds = {f.pattern_type for f in findings}
    assert {
        "low_stock",
        "countdown_timer",
        "activity_notification",
        "confirmshaming",
        "sneak_into_basket",
    } <= kinds
    stock = next(f for f in findings if f.pattern_type == "low_stock")
    assert stock.evidence == "Hurry! Only 3 left in stock"
    assert "p.stock" in stock.description


def test_content_findings_stream_one_by_one() -> None:
    stream = iter_content(shop_site().entry)
    first = next(stream)
    assert first.category == "dark_pattern"


def test_clean_page_has_no_dark_patterns() -> None:
    assert analyse_content(clean_site().entry) == []


def test_site_types() -> None:
    assert classify_site(shop_site()).site_type == "ecommerce"
    assert classify_site(phishing_site()).site_type == "login_financial"
    assert classify_site(clean_site()).site_type == "other"


def test_url_signs_on_bare_strings() -> None:
    kinds = {s.kind for s in signs("http://paypal.com.secure-login.verify-id.example.tk/signin")}
    assert {"brand_outside_domain", "risky_tld", "credential_words", "many_subdomains"} <= kinds
    assert {s.kind for s in signs("http://198.51.100.4/bank/login.php")} >= {"ip_host"}
    assert "punycode" in {s.kind for s in signs("https://xn--pple-43d.com/")}
    assert "lookalike_brand" in {s.kind for s in signs("https://paypa1.com/")}
    assert "at_sign" in {s.kind for s in signs("http://www.bank.example@198.51.100.4/")}


def test_url_analyser_separates_obvious_cases() -> None:
    assert analyse_url("http://paypal.com.secure-login.verify-id.example.tk/webscr/signin").phishing
    assert not analyse_url("https://www.wikipedia.org/").phishing


def test_phishing_page_is_concluded_phishing() -> None:
    result = phishing(phishing_site())
    kinds = {f.pattern_type for f in result.findings}
    assert {
        "brand_impersonation",
        "threat_language_login",
        "login_posts_elsewhere",
        "offsite_brand_asset",
        "phishing_verdict",
    } <= kinds
    assert result.details["verdict"] == "phishing"


def test_clean_site_is_not_phishing() -> None:
    result = phishing(clean_site())
    assert result.details["verdict"] == "clean"
    assert result.score == 100


def test_intel_facts_without_outside_services() -> None:
    report = gather_intel(phishing_site(), ["203.0.113.10"])
    assert report.facts["domain"] == "example.top"
    assert report.facts["addresses"] == ["203.0.113.10"]
    assert report.facts["claimed_brands"] == ["PayPal"]
    assert "www.paypal.com" in report.facts["third_party_hosts"]
    assert report.facts["certificate"]["issuer"] == "Let's Encrypt"
    # The brand claim is weighed by the phishing module (it knows what the page asks for).
    assert "brand_claim_mismatch" not in {f.pattern_type for f in report.findings}


def test_intel_on_clean_site_has_no_findings() -> None:
    report = gather_intel(clean_site(), [])
    assert report.findings == ()
    assert report.facts["domain"] == "example.com"
