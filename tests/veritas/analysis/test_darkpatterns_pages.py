"""The dark-pattern detector on whole pages: the page is the unit, precision comes first."""

from __future__ import annotations

from tests.veritas.analysis.sites import page
from veritas.analysis import analyse_content

SHOP = """<html><head><title>Oak Desk | Woodshop</title></head><body>
<nav><a href="/">Home</a> <a href="/desks">Desks</a></nav>
<h1>Oak Desk</h1><p class="price">$240.00</p><button>Add to basket</button>
<p class="stock">Only 2 left in stock - order soon.</p>
<div class="notice"><span>14 people are viewing this right now</span></div>
<p>Standard delivery $15.00, express delivery $25.00.</p>
<p>Posted on March 10 at 08:05</p><p>2019-11-20 14:35:08</p>
<form action="/review" method="post"><textarea name="review"></textarea>
<p>10000 characters left</p>
<label><input type="checkbox" name="news" checked> Send me the newsletter</label>
<button>Send</button></form>
<p>We use cookies with our partners Google Analytics, Hotjar and Criteo.</p>
<a class="decline" href="/">No thanks, I'd rather pay full price</a>
<footer>Woodshop Ltd, 12 Mill Road</footer></body></html>"""

ARTICLE = """<html><head><title>Timber prices rise</title></head><body><article>
<h1>Timber prices rise as builders face high demand</h1>
<p>Suppliers said only 3 mills are left in the region, and the high demand for oak is
expected to last through the summer. Hurry, said one builder, or the season is lost.</p>
<p>Posted on March 10 at 08:05</p></article></body></html>"""


def _findings(html: str, url: str = "https://woodshop.example.com/desk") -> dict[str, str]:
    return {f.evidence: f.pattern_type for f in analyse_content(page(url, html))}


def test_real_pressure_claims_on_a_shop_page_are_found_and_nothing_else() -> None:
    assert _findings(SHOP) == {
        "Only 2 left in stock - order soon.": "low_stock",
        "14 people are viewing this right now": "high_demand",
        "No thanks, I'd rather pay full price": "confirmshaming",
    }


def test_an_article_that_talks_about_demand_pressures_nobody() -> None:
    assert _findings(ARTICLE, "https://news.example.org/timber") == {}


def test_each_finding_quotes_names_and_locates_with_a_calibrated_confidence() -> None:
    findings = analyse_content(page("https://woodshop.example.com/desk", SHOP))
    stock = next(f for f in findings if f.pattern_type == "low_stock")
    assert stock.url == "https://woodshop.example.com/desk"
    assert "body > p.stock" in stock.description
    assert "Scarcity" in stock.description
    assert 0.5 <= stock.confidence < 1.0
    assert stock.severity == "low"


def test_only_a_rule_naming_the_mechanism_raises_more_than_low() -> None:
    findings = analyse_content(page("https://woodshop.example.com/desk", SHOP))
    for finding in findings:
        if "model only" in finding.description:
            assert finding.severity == "low"
    shaming = next(f for f in findings if f.pattern_type == "confirmshaming")
    assert shaming.severity == "medium"
