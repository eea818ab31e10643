"""Phishing signs on pages written for these tests: kits, clones, and honest pages that look close.

Each honest page here is a case a naive detector gets wrong: a news article about a bank, a
shop selling a brand's product, a login on a site that names itself, a login that posts to a
sister domain of the same organisation.
"""

from __future__ import annotations

from tests.veritas.analysis.sites import page, tls_for
from veritas.analysis import SECURITY_MODULES, analyse_content, classify_site, gather_intel
from veritas.analysis.forms import form_validation
from veritas.analysis.phishing import phishing
from veritas.page import Site
from veritas.scoring import Evidence, Verdict, judge

LOGIN_FORM = """<form action="next.php" method="post">
<label for="u">Email</label><input id="u" name="email" type="email">
<label for="p">Password</label><input id="p" name="pass" type="password">
<button type="submit">Sign in</button></form>"""


def kit(title: str, body: str = "", form: str = LOGIN_FORM) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}{form}</body></html>"


def article(title: str, paragraphs: str, extra: str = "", host: str = "news.example") -> str:
    """A news article woven into its own site: navigation, related stories, a footer."""
    nav = "".join(
        f'<li><a href="https://{host}/section/{i}/">Section {i}</a></li>' for i in range(15)
    )
    related = "".join(
        f'<a href="https://{host}/2025/05/story-{i}">Story {i}</a>' for i in range(10)
    )
    return f"""<html><head><title>{title} - The Daily Example</title>
<meta property="og:site_name" content="The Daily Example">
<meta property="og:type" content="article">
</head><body><nav><ul>{nav}</ul></nav><article><h1>{title}</h1>{paragraphs}</article>
<aside>{related}</aside>{extra}<footer>© 2025 The Daily Example Ltd</footer></body></html>"""


def kinds(site: Site) -> set[str]:
    return {f.pattern_type for f in phishing(site).findings}


def verdict(site: Site) -> Verdict:
    modules = [module(site) for module in SECURITY_MODULES.values()]
    findings = [f for m in modules for f in m.findings]
    findings += [f for p in site.pages for f in analyse_content(p)]
    evidence = Evidence(modules, findings, classify_site(site), gather_intel(site, []), 1)
    return judge(evidence, "expert")


def test_brand_kit_with_a_homoglyph_title_is_phishing() -> None:
    site = Site((page("https://secure-login.example.top/app/signin.php", kit("Log in to PayPaI")),))
    found = kinds(site)
    assert {"brand_impersonation", "phishing_verdict"} <= found
    assert verdict(site).risk_level == "likely_fraudulent"


def test_multi_word_bank_kit_in_cyrillic_letters_is_phishing() -> None:
    title = "B\u0430nk of \u0410meric\u0430 | Online Banking"  # Cyrillic a and A
    site = Site((page("https://alerts.verify-center.example.net/boa/", kit(title)),))
    result = phishing(site)
    assert "phishing_verdict" in {f.pattern_type for f in result.findings}
    assert result.details["claimed_brands"] == ["Bank of America"]


def test_brand_named_only_in_the_copyright_line_of_a_kit_counts() -> None:
    body = "<p>Sign in</p><footer>© 1996-2019, \u0391mazon.com, Inc. or its affiliates</footer>"
    site = Site((page("https://shop-check.example.org/ap/signin.php", kit("", body)),))
    assert "brand_impersonation" in kinds(site)


def test_generic_clone_that_names_no_one_is_phishing() -> None:
    body = "<h1>Sign in to your account</h1><p>Enter your email and password to continue.</p>"
    site = Site((page("https://www.hillside-garden.example/d/login.php", kit("Sign in", body)),))
    found = kinds(site)
    assert {"credential_clone", "phishing_verdict"} <= found
    assert "brand_impersonation" not in found


def test_login_page_that_names_its_own_site_is_not_a_clone() -> None:
    body = "<h1>Sign in to Riverside Bakery</h1><p>Members see their orders here.</p>"
    site = Site(
        (page("https://www.riverside-bakery.example.com/login", kit("Riverside Bakery", body)),)
    )
    assert kinds(site) & {"credential_clone", "phishing_verdict", "brand_impersonation"} == set()
    assert verdict(site).risk_level in ("trusted", "probably_safe")


def test_news_article_about_a_bank_with_a_login_box_is_not_impersonation() -> None:
    story = (
        "<p>Wells Fargo was fined on Tuesday after regulators found that accounts had been "
        "suspended without notice. Customers said their account has been locked for days.</p>"
    ) * 5
    login = '<form action="/login" method="post"><input name="u"><input type="password" name="p">'
    login += "<button>Log in to The Daily Example</button></form>"
    site = Site(
        (
            page(
                "https://news.example/2025/05/bank-fined",
                article("Wells Fargo fined", story, login),
            ),
        )
    )
    found = kinds(site)
    assert found & {"brand_impersonation", "threat_language_login", "phishing_verdict"} == set()
    assert verdict(site).risk_level != "likely_fraudulent"


def test_threat_words_on_a_page_without_a_login_are_not_a_sign() -> None:
    story = "<p>Your account has been suspended, the message said; it was a scam.</p>" * 3
    site = Site((page("https://news.example/2025/05/scam", article("Scam warning", story)),))
    assert "threat_language_login" not in kinds(site)


def test_threat_language_next_to_a_login_form_is_a_sign() -> None:
    form = LOGIN_FORM.replace("<button", "<p>Your account has been suspended.</p><button")
    site = Site((page("https://acct-restore.example.top/x/", kit("Account review", "", form)),))
    assert "threat_language_login" in kinds(site)


def test_shop_selling_a_brand_product_is_not_impersonating_it() -> None:
    links = "".join(f'<a href="https://gadgets.example/c/{i}">Category {i}</a>' for i in range(12))
    body = f"""<html><head><title>Apple iPhone 15 128GB Black | Gadgets Example</title>
<script type="application/ld+json">{{"@type": "Product", "name": "Apple iPhone 15"}}</script>
</head><body><nav>{links}</nav><h1>Apple iPhone 15 128GB</h1><p>£799.00</p>
<button class="add-to-basket">Add to basket</button></body></html>"""
    site = Site((page("https://gadgets.example/p/iphone-15", body),))
    assert kinds(site) & {"brand_impersonation", "brand_claim", "phishing_verdict"} == set()
    assert classify_site(site).site_type == "ecommerce"


def test_login_posting_to_a_sister_domain_that_serves_the_page_scripts_is_not_theft() -> None:
    form = '<form action="https://idp.newsgroup-example.co.uk/auth" method="post"><input name="u">'
    form += '<input type="password" name="p"></form>'
    script = '<script src="https://tags.newsgroup-example.co.uk/track.js"></script>'
    story = "<p>Local council approves the new park.</p>" * 5
    body = article("Park approved", story, script + form, host="www.dailyherald-example.co.uk")
    site = Site((page("https://www.dailyherald-example.co.uk/news/park", body),))
    assert "login_posts_elsewhere" not in kinds(site)
    assert "credentials_to_other_domain" not in {
        f.pattern_type for f in form_validation(site).findings
    }
    assert verdict(site).risk_level != "likely_fraudulent"


def test_login_posting_to_a_domain_named_in_the_certificate_is_not_theft() -> None:
    form = '<form action="https://login.herald-accounts-example.co.uk/" method="post">'
    form += '<input name="u"><input type="password" name="p"></form>'
    tls = tls_for(
        "www.dailyherald-example.co.uk",
        san=("www.dailyherald-example.co.uk", "*.herald-accounts-example.co.uk"),
    )
    site = Site(
        (page("https://www.dailyherald-example.co.uk/", kit("Daily Herald", "", form), tls=tls),)
    )
    assert "credentials_to_other_domain" not in {
        f.pattern_type for f in form_validation(site).findings
    }


def test_login_posting_to_an_unrelated_domain_is_flagged() -> None:
    form = '<form action="https://collector.example.net/g.php" method="post">'
    form += '<input name="u"><input type="password" name="p"></form>'
    site = Site((page("https://www.dailyherald-example.co.uk/", kit("Daily Herald", "", form)),))
    assert "credentials_to_other_domain" in {f.pattern_type for f in form_validation(site).findings}
    assert "login_posts_elsewhere" in kinds(site)


def test_article_showing_a_brand_logo_next_to_its_own_login_box_is_not_phishing() -> None:
    logo = '<img src="https://www.paypalobjects.com/paypal-logo.png" alt="PayPal logo">'
    story = f"<p>PayPal changes its fees.</p>{logo}"
    login = '<form action="/login" method="post"><input name="u"><input type="password" name="p">'
    login += "<button>Log in</button></form>"
    site = Site(
        (page("https://news.example/2025/05/fees", article("PayPal fees", story * 3, login)),)
    )
    assert kinds(site) & {"brand_impersonation", "offsite_brand_asset", "phishing_verdict"} == set()


def test_wordpress_login_of_a_blog_is_not_impersonating_wordpress() -> None:
    body = "<h1>Powered by WordPress</h1><p>Lisa's Garden Notes</p>"
    title = "Log In &lsaquo; Lisa's Garden Notes &#8212; WordPress"
    site = Site((page("https://www.lisasgardennotes.co.uk/wp-login.php", kit(title, body)),))
    assert kinds(site) & {"brand_impersonation", "credential_clone", "phishing_verdict"} == set()


def test_webmail_kit_on_a_stranger_host_is_a_clone() -> None:
    body = "<h1>Roundcube Webmail</h1><p>Your mailbox is almost full. Sign in to upgrade.</p>"
    site = Site((page("https://www.hillside-garden.co.uk/rc/index.php", kit("Roundcube", body)),))
    assert {"credential_clone", "phishing_verdict"} <= kinds(site)


def test_a_brand_in_the_subdomain_does_not_name_the_site() -> None:
    body = "<h1>Sign in</h1><p>Enter your password to continue.</p>"
    url = "https://paypal.account-review.example.top/signin.php"
    assert "credential_clone" in kinds(Site((page(url, kit("Sign in", body)),)))
    assert "brand_impersonation" in kinds(Site((page(url, kit("PayPal", body)),)))
