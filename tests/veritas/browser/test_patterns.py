"""Each pattern of the deep tier, on a page where only script produces it; a clean page stays clean.

The pages are rendered once for the module (one browser, one page each), as a deep audit
renders them; each test reads its page's findings and screenshots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from protocol.events import Event
from tests.veritas.browser.conftest import DeepSite, Rendered
from tests.veritas.browser.site import SiteState, serve_site
from veritas.browser import BrowserSettings
from veritas.browser.timers import seconds_left

pytestmark = pytest.mark.browser

PAGES = ("/clean", "/timer", "/deadline", "/toast", "/addon", "/consent", "/consent-forced")


@pytest.fixture(scope="module")
def rendered() -> Iterator[Rendered]:
    with serve_site(SiteState()) as port:
        site = DeepSite(SiteState(), port)
        settings = BrowserSettings(pages=len(PAGES), timer_interval=1.2)
        yield asyncio.run(site.render(*PAGES, settings=settings))


def shots_of(rendered: Rendered, path: str) -> list[Event]:
    return [e for e in rendered.screenshots if e["url"].endswith(path)]


def test_the_clean_page_stays_clean(rendered: Rendered) -> None:
    assert rendered.kinds("/clean") == []


def test_every_page_is_photographed_as_a_bounded_jpeg(rendered: Rendered) -> None:
    pages = [e for e in rendered.screenshots if e["label"].startswith("page ")]
    assert [e["url"].rpartition("/")[2] for e in pages] == [p[1:] for p in PAGES]
    for event in rendered.screenshots:
        assert event["mime"] == "image/jpeg"
        assert event["data"][:3] == b"\xff\xd8\xff"  # the JPEG signature
        assert len(event["data"]) <= BrowserSettings().screenshot_max_bytes
    indexes = [e["index"] for e in rendered.screenshots]
    assert indexes == list(range(1, len(indexes) + 1))
    assert rendered.summary["screenshots"] == len(indexes)


def test_a_countdown_that_restarts_for_a_new_visitor_is_an_evergreen_fake(
    rendered: Rendered,
) -> None:
    (fake,) = [f for f in rendered.of("countdown_timer") if f.url.endswith("/timer")]
    assert fake.severity == "medium"
    readings = [part.split("'")[1] for part in fake.evidence.split("read")[1:2]]
    assert readings and seconds_left(readings[0]) == 14 * 60 + 59
    assert "a new visitor" in fake.evidence
    assert any(e["label"] == "countdown timer" for e in shots_of(rendered, "/timer"))


def test_a_countdown_to_a_real_deadline_is_not_called_fake(rendered: Rendered) -> None:
    assert [f for f in rendered.of("countdown_timer") if f.url.endswith("/deadline")] == []


def test_notifications_inserted_after_load_are_reported_with_their_text(
    rendered: Rendered,
) -> None:
    texts = sorted(f.evidence for f in rendered.of("activity_notification"))
    assert texts == [
        "Emma from Leeds just bought a Speckled Mug",
        "Tom from Bristol just bought a Speckled Mug",
    ]
    assert all(f.url.endswith("/toast") for f in rendered.of("activity_notification"))


def test_a_paid_add_on_ticked_by_script_is_sneaking(rendered: Rendered) -> None:
    (sneak,) = rendered.of("sneak_into_basket")
    assert sneak.url.endswith("/addon")
    assert "Breakage insurance" in sneak.evidence


def test_a_tiny_faint_refusal_and_a_preticked_purpose_are_interference(
    rendered: Rendered,
) -> None:
    assert sorted(rendered.kinds("/consent")) == [
        "consent_interference",
        "consent_preticked",
        "cookies_before_consent",
    ]
    (weaker,) = rendered.of("consent_interference")
    assert "area" in weaker.evidence and "font 10 px vs 20 px" in weaker.evidence
    assert "Personalised advertising" in rendered.of("consent_preticked")[0].evidence
    assert rendered.of("cookies_before_consent")[0].evidence == "cookies: visitor"
    assert any(e["label"] == "consent banner" for e in shots_of(rendered, "/consent"))


def test_a_banner_without_refusal_is_reported(rendered: Rendered) -> None:
    assert rendered.kinds("/consent-forced") == ["consent_no_reject"]


def test_no_finding_is_reported_twice(rendered: Rendered) -> None:
    keys = [(f.pattern_type, f.url, f.evidence) for f in rendered.findings]
    assert len(keys) == len(set(keys))


def test_the_rendered_dom_repeats_no_finding_the_raw_html_made() -> None:
    from veritas.analysis import iter_content
    from veritas.browser.rendered import Seen, rendered_findings, rendered_page
    from veritas.page import Page

    # A shop page: pressure claims count only where something is for sale.
    shop = "<h1>Lamp</h1><p>$40.00</p><button>Add to cart</button>"
    raw_html = f"<html><body>{shop}<p>Only 3 left in stock!</p></body></html>"
    raw = Page("http://shop.test/", "http://shop.test/", 200, (), raw_html.encode(), False)
    raw_findings = list(iter_content(raw))
    added = f"{shop}<p>Only 3 left in stock!</p><p>Hurry, this offer ends today only!</p>"
    page = rendered_page(raw, f"<html><body>{added}</body></html>", 1 << 20)
    new = list(rendered_findings(page, Seen(raw_findings)))
    assert [f.pattern_type for f in raw_findings] == ["low_stock"]
    assert [f.evidence for f in new] == ["Hurry, this offer ends today only!"]
