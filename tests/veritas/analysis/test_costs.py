"""Hidden costs through the real auditor: fees added at checkout, a membership that renews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.veritas.analysis.pushy_shop import HONEST, PUSHY, serve
from tests.veritas.analysis.sites import page
from tests.veritas.worker import run_worker
from veritas.analysis import html
from veritas.analysis.costs import fee_rows, hidden_fees, subscriptions
from veritas.page import Site


def _audit(pages: Mapping[str, str]) -> list[dict[str, Any]]:
    with serve(pages) as base:
        run = run_worker([base + "/product", "--tier", "standard_audit"], mode="stdout")
    assert run.returncode == 0, run.stderr
    return [f for f in run.result["findings"] if f["category"] == "dark_pattern"]


def test_the_pushy_checkout_shows_its_hidden_fees_and_the_auto_renewing_membership() -> None:
    findings = _audit(PUSHY)
    fees = [f for f in findings if f["pattern_type"] == "hidden_costs"]
    assert sorted(f["evidence"] for f in fees) == [
        "Order processing charge $3.99",
        "Service fee $6.50",
    ]
    assert all(f["url"].endswith("/checkout") and f["severity"] == "medium" for f in fees)
    (membership,) = [f for f in findings if f["pattern_type"] == "hidden_subscription"]
    assert "then $19.99/month" in membership["evidence"]
    assert membership["url"].endswith("/checkout")


def test_the_honest_checkout_of_the_same_shop_has_no_dark_pattern() -> None:
    assert _audit(HONEST) == []


def test_a_fee_the_product_page_already_showed_is_not_hidden() -> None:
    product = "<p>Trail Runner 3 $89.00</p><p>A service fee of $6.50 applies to every order.</p>"
    site = Site((
        page("https://shop.example.com/product", product),
        page("https://shop.example.com/checkout", PUSHY["/checkout"]),
    ))  # fmt: skip
    assert [f.evidence for f in hidden_fees(site)] == ["Order processing charge $3.99"]


def test_delivery_and_tax_rows_are_ordinary_costs() -> None:
    rows = fee_rows(
        "<table><tr><td>Delivery charge</td><td>$4.95</td></tr>"
        "<tr><td>Sales tax</td><td>$2.10</td></tr></table>"
    )
    assert rows == []


def test_a_checkout_alone_is_not_compared_with_anything() -> None:
    site = Site((page("https://shop.example.com/checkout", PUSHY["/checkout"]),))
    assert hidden_fees(site) == []


def _subscription_evidence(*paragraphs: str) -> list[str]:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    doc = html.parse(f"<html><body>{body}</body></html>", "https://shop.example.com/p")
    return [f.evidence for f in subscriptions(doc)]


def test_renewal_terms_that_charge_by_default_are_hidden_subscriptions() -> None:
    terms = [
        "Your Plus subscription auto-renews every year.",
        "First year $1.99 per month; at the end of the introductory period you pay $4.99/month.",
        "Includes a 14-day Gold Club trial with your purchase.",
    ]
    assert _subscription_evidence(*terms) == terms


def test_a_plan_or_a_subscription_without_a_default_charge_is_not_hidden() -> None:
    assert (
        _subscription_evidence(
            "The council's plan was automatically renewed by the new cabinet.",
            "Subscriptions can be paused or cancelled from your account page.",
            "Continue without an account",
        )
        == []
    )
