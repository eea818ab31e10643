"""TLS, redirects, forms and scripts modules on pages written for the purpose."""

from __future__ import annotations

from dataclasses import replace

from tests.veritas.analysis.sites import DAY, NOW, clean_site, miner_site, page, redirect_site
from veritas.analysis.forms import form_validation
from veritas.analysis.redirects import redirect_chain
from veritas.analysis.scripts import js_analysis
from veritas.analysis.tls import tls
from veritas.page import Site


def _kinds(findings: object) -> set[str]:
    return {f.pattern_type for f in findings}  # type: ignore[attr-defined]


def test_valid_certificate_has_no_tls_findings() -> None:
    result = tls(clean_site(), now=NOW)
    assert result.findings == ()
    assert result.details["issuer"] == "Let's Encrypt"


def test_plain_http_without_forms_is_a_medium_finding() -> None:
    result = tls(Site((page("http://a.example.com/"),)))
    assert _kinds(result.findings) == {"no_https"}
    assert result.findings[0].severity == "medium"


def test_plain_http_with_a_login_form_is_a_high_finding() -> None:
    login = '<form method="post"><input name="u"><input type="password" name="p"></form>'
    result = tls(Site((page("http://a.example.com/", f"<html><body>{login}</body></html>"),)))
    assert result.findings[0].severity == "high"


def test_self_signed_expired_mismatched_certificate_is_reported_three_ways() -> None:
    entry = clean_site().entry
    bad = replace(
        entry.tls,
        self_signed=True,
        hostname_matches=False,  # type: ignore[type-var]
        not_after=NOW - 3 * DAY,
        verify_error="self-signed certificate",
    )
    result = tls(Site((replace(entry, tls=bad),)), now=NOW)
    assert _kinds(result.findings) == {
        "self_signed_certificate",
        "certificate_hostname_mismatch",
        "certificate_expired",
    }


def test_certificate_expiring_soon_is_low() -> None:
    entry = clean_site().entry
    soon = replace(entry.tls, not_after=NOW + 3 * DAY)  # type: ignore[type-var]
    result = tls(Site((replace(entry, tls=soon),)), now=NOW)
    assert [(f.pattern_type, f.severity) for f in result.findings] == [
        ("certificate_expires_soon", "low")
    ]


def test_redirect_chain_reports_shortener_downgrade_and_length() -> None:
    result = redirect_chain(redirect_site())
    assert {"shortener_hop", "https_downgrade", "long_redirect_chain"} <= _kinds(result.findings)
    assert result.details["hops"] == 4


def test_no_redirects_no_findings() -> None:
    assert redirect_chain(clean_site()).findings == ()


def test_redirect_loop_is_found() -> None:
    from veritas.page import Hop

    hops = (
        Hop("https://a.example.com/x", 302, "https://a.example.com/y"),
        Hop("https://a.example.com/y", 302, "https://a.example.com/x"),
    )
    p = replace(page("https://a.example.com/x"), url=hops[0].url, redirects=hops)
    assert "redirect_loop" in _kinds(redirect_chain(Site((p,))).findings)


def _form_site(url: str, form: str) -> Site:
    return Site((page(url, f"<html><body>{form}</body></html>"),))


def test_password_posted_to_another_domain_is_critical() -> None:
    site = _form_site(
        "https://bank.example.com/login",
        '<form method="post" action='
        '"https://collector.example.net/x"><input type="password" name="pw"></form>',
    )
    findings = form_validation(site).findings
    assert [(f.pattern_type, f.severity) for f in findings] == [
        ("credentials_to_other_domain", "critical")
    ]


def test_card_form_on_http_and_by_get_is_flagged() -> None:
    site = _form_site(
        "http://shop.example.com/pay",
        '<form action="/pay"><input name="cardnumber" autocomplete="cc-number"></form>',
    )
    assert _kinds(form_validation(site).findings) == {"payment_over_http", "sensitive_data_by_get"}


def test_form_to_ip_and_mailto_are_flagged() -> None:
    site = _form_site(
        "https://a.example.com/",
        '<form method="post" action="http://198.51.100.7/'
        'p"><input name="q"></form><form action="mailto:x@a.example.com" method='
        '"post"><input type="password" name="pw"></form>',
    )
    kinds = _kinds(form_validation(site).findings)
    assert {"form_posts_to_ip", "mailto_form"} <= kinds


def test_ordinary_same_site_form_is_fine() -> None:
    assert form_validation(clean_site()).findings == ()


def test_cryptominer_is_critical() -> None:
    result = js_analysis(miner_site())
    assert [(f.pattern_type, f.severity) for f in result.findings] == [("cryptominer", "critical")]


def test_mining_pool_socket_in_same_site_script_is_found() -> None:
    script = page("https://a.example.com/app.js", "", headers=())
    script = replace(script, body=b'var s = new WebSocket("wss://xmr.pool.example.net:443");')
    site = Site((page("https://a.example.com/"),), scripts=(script,))
    assert "cryptominer" in _kinds(js_analysis(site).findings)


def test_obfuscation_signs_are_found() -> None:
    packed = "eval(atob('ZG9jdW1lbnQ=')); document.write(unescape('%3Cb%3E'));"
    escapes = "var s='" + "\\x41" * 80 + "';"
    ids = "var " + ", ".join(f"_0x{i:04x}a=1" for i in range(25)) + ";"
    body = f"<html><body><script>{packed}{escapes}{ids}</script></body></html>"
    kinds = _kinds(js_analysis(Site((page("https://a.example.com/", body),))).findings)
    assert {
        "eval_decoded_string",
        "document_write_decoded",
        "dense_escapes",
        "high_entropy_identifiers",
    } <= kinds


def test_unsigned_third_party_script_and_mixed_content() -> None:
    body = (
        '<html><body><script src="https://cdn.other.example.net/lib.js"></script>'
        '<img src="http://img.example.com/a.png"><iframe src="http://w.example.org/">'
        "</iframe></body></html>"
    )
    kinds = _kinds(js_analysis(Site((page("https://a.example.com/", body),))).findings)
    assert kinds == {
        "cross_origin_script_without_sri",
        "mixed_active_content",
        "mixed_passive_content",
    }


def test_clean_site_scripts_have_no_findings() -> None:
    assert js_analysis(clean_site()).findings == ()
