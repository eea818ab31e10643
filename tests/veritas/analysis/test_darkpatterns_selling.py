"""Which pages sell, and the claims that only count where something is sold."""

from __future__ import annotations

import pytest

from tests.veritas.analysis.sites import page
from veritas.analysis import analyse_content, classify_site, html
from veritas.analysis.darkpatterns import sells
from veritas.page import Site

STOCK = "<p>Only 2 left in stock</p>"


def _sells(body: str) -> bool:
    source = f"<html><head><title>t</title></head><body>{body}</body></html>"
    return sells(html.parse(source, "https://shop.example.com/p/1"), source)


@pytest.mark.parametrize(
    "body",
    [
        '<p>Cijena 415,00 Kn</p><a class="cta" href="/kosarica?add=7">\n  Kupi\n</a>',
        '<p>64.50€</p><button type="button" class="btn">Naroči</button>',
        '<p>29,90 €</p><input type="submit" value="In den Warenkorb">',
        '<p>$3</p><script type="application/ld+json">{"@type": "AggregateOffer"}</script>',
        '<p>£12</p><script type="application/ld+json">{"@type": ["Product"]}</script>',
    ],
    ids=["croatian-link", "slovene-button", "german-input", "aggregate-offer", "type-list"],
)
def test_a_shop_page_in_any_language_sells(body: str) -> None:
    assert _sells(body)


@pytest.mark.parametrize(
    "body",
    [
        '<p>Shares closed at $32.10.</p><a class="menu-item" href="/buy">Buy</a>',
        "<p>The council will buy 3 buses for $2m, it said.</p>",
        '<p>Tickets cost $30.</p><a href="/review">Read the review</a>',
    ],
    ids=["menu-buy", "prose-buy", "no-control"],
)
def test_a_page_that_names_prices_without_a_buy_control_does_not_sell(body: str) -> None:
    assert not _sells(body)


def _found(body: str, url: str = "https://shop.example.com/p/1") -> dict[str, str]:
    source = f"<html><head><title>t</title></head><body>{body}</body></html>"
    return {f.evidence: f.pattern_type for f in analyse_content(page(url, source))}


SHOP = '<h1>Sofa</h1><p>$899.00</p><button class="buy">Add to basket</button>'


def test_a_shop_whose_body_class_names_its_menu_still_pressures_its_buyers() -> None:
    source = f'<html><body class="menu-closed">{SHOP}{STOCK}</body></html>'
    findings = {f.evidence for f in analyse_content(page("https://shop.example.com/p", source))}
    assert "Only 2 left in stock" in findings


def test_an_add_on_pushed_at_the_buyer_is_found_on_a_shop_only() -> None:
    upsell = "<p>Why not add a stain guard for your new sofa?</p>"
    assert _found(SHOP + upsell).get(upsell[3:-4]) == "pressured_selling"
    assert _found(upsell, "https://news.example.org/sofas") == {}


def test_a_countdown_to_a_deal_on_a_page_with_auctions_is_still_urgency() -> None:
    auction = SHOP + "<p>Also on sale: a lamp, 3 bids</p>"
    deal = "<p>This deal ends in 2 days : 05 hours : 31 minutes</p>"
    closing = "<p>Time left: 2 hours 14 minutes</p>"
    found = _found(auction + deal + closing)
    assert found.get(deal[3:-4]) == "countdown_timer"
    assert closing[3:-4] not in found


def test_a_membership_that_comes_with_the_order_is_a_hidden_subscription() -> None:
    found = _found(SHOP + "<p>Includes a 30-day Gold Club trial with your order.</p>")
    assert list(found.values()) == ["hidden_subscription"]


def test_declining_the_offer_framed_as_a_loss_is_confirmshaming() -> None:
    found = _found(SHOP + "<button>Check out without my free gift</button>")
    assert found == {"Check out without my free gift": "confirmshaming"}


def test_guest_checkout_is_not_confirmshaming() -> None:
    assert _found(SHOP + "<button>Continue without an account</button>") == {}


@pytest.mark.parametrize(
    "body",
    [
        '<h1>Jerky mix</h1><p>$85</p><a href="#" class="btn">加入購物車</a><p>結帳</p>',
        '<h1>Maska</h1><p>72.00€ Brez DDV: 59.02€</p><a href="/cart">Košarica</a>',
    ],
    ids=["traditional-chinese", "trailing-euro"],
)
def test_a_shop_page_in_its_own_language_is_typed_ecommerce(body: str) -> None:
    source = f"<html><head><title>Shop</title></head><body>{body}</body></html>"
    site = Site(pages=(page("https://www.example.com/item/7", source),))
    assert classify_site(site).site_type == "ecommerce"
