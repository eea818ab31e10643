"""The brand list and the confusables fold: names found however they are disguised."""

from __future__ import annotations

import pytest

from veritas.analysis.brands import brand_list
from veritas.analysis.confusables import fold, has_lookalikes


def _names(text: str) -> list[str]:
    return [b.name for b in brand_list().find(text)]


def test_the_list_holds_hundreds_of_brands_and_names_its_sources() -> None:
    brands = brand_list()
    assert len(brands.brands) >= 300
    assert any("Phishpedia" in s for s in brands.sources)
    assert any("APWG" in s for s in brands.sources)
    assert all(b.domains for b in brands.brands)


@pytest.mark.parametrize(
    ("disguised", "plain"),
    [
        ("PayPaI", "PayPal"),  # capital I for l
        ("\u0420ay\u0420al", "PayPal"),  # Cyrillic Er
        ("\u0391mazon", "Amazon"),  # Greek Alpha
        ("A0L", "AOL"),  # zero for O
        ("\uff30\uff41\uff59\uff30\uff41\uff4c", "PayPal"),  # fullwidth
        ("rnicrosoft", "microsoft"),  # r n for m
    ],
)
def test_lookalikes_fold_to_the_letters_they_imitate(disguised: str, plain: str) -> None:
    assert fold(disguised) == fold(plain)


def test_mixed_alphabets_are_noticed() -> None:
    assert has_lookalikes("\u0420ayPal")
    assert not has_lookalikes("PayPal")


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("Log in to your PayPaI account", "PayPal"),
        ("Bank Of America | Online Banking", "Bank of America"),
        ("Wells Fargo Online", "Wells Fargo"),
        ("Sign in to your \u0410pple ID", "Apple"),
        ("Copyright BankofAmerica Corporation", "Bank of America"),
        ("Secure File Sharing | Box", "Box"),
    ],
)
def test_brand_names_are_found_in_page_text(text: str, brand: str) -> None:
    assert brand in _names(text)


@pytest.mark.parametrize(
    "text",
    [
        "Your purchase history",  # chase inside a word
        "an apple pie and a box of pears",  # ordinary words in lower case
        "Sign in with Google",  # an offer to log in elsewhere is not a claim
        "Continue with Apple",
        "MS - Mato Grosso do Sul",  # initials are not Marks & Spencer
    ],
)
def test_ordinary_text_names_no_brand(text: str) -> None:
    assert _names(text) == []


def test_a_brand_owns_its_domains_and_their_country_variants() -> None:
    paypal = next(b for b in brand_list().brands if b.name == "PayPal")
    assert paypal.owns("paypal.com")
    assert paypal.owns("paypal.co.uk")
    assert not paypal.owns("paypal-safety.com")
    assert brand_list().owner_of("gstatic.com") is not None


def test_file_names_name_brands_but_standard_icons_do_not() -> None:
    found = brand_list().in_names(["chasefavicon.ico", "apple-touch-icon.png", "logo.png"])
    assert [b.name for b in found] == ["Chase"]
