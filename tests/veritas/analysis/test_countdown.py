"""Countdowns in script: a visible element rewritten by a decrementing timer, nothing else."""

from __future__ import annotations

from veritas.analysis import html
from veritas.analysis.countdown import countdowns

SHOP = """<html><body><h1>Lamp</h1><p>$40.00</p><button>Add to cart</button>
<p>Offer ends in <span id="clock">--:--</span></p><div id="spare" hidden></div>
<script>{code}</script></body></html>"""

COUNTDOWN = """var end = Date.now() + 3600 * 1000;
setInterval(function () {{
  var left = end - Date.now();
  document.getElementById('{target}').textContent = Math.floor(left / 1000) + 's';
}}, 1000);"""

PER_VISITOR = """var end = localStorage.getItem('deadline') || Date.now() + 900000;
localStorage.setItem('deadline', end);
setInterval(function () {
  document.getElementById('clock').textContent = end - Date.now();
}, 1000);"""

CLOCK = """setInterval(function () {
  document.getElementById('clock').textContent = new Date().toLocaleTimeString();
}, 1000);"""

AD_REFRESH = """var slots = 30;
setInterval(function () { slots--; googletag.pubads().refresh();
  document.getElementById('clock').textContent = slots; }, 30000);"""


def _found(code: str) -> list[str]:
    doc = html.parse(SHOP.format(code=code), "https://shop.example.com/lamp")
    return [f.severity for f in countdowns(doc)]


def test_a_timer_counting_down_into_a_visible_element_is_a_countdown() -> None:
    assert _found(COUNTDOWN.format(target="clock")) == ["low"]


def test_a_deadline_kept_per_visitor_is_fake_and_medium() -> None:
    assert _found(PER_VISITOR) == ["medium"]


def test_a_clock_showing_the_time_is_not_a_countdown() -> None:
    assert _found(CLOCK) == []


def test_an_ad_refresh_timer_is_not_a_countdown() -> None:
    assert _found(AD_REFRESH) == []


def test_a_countdown_into_a_hidden_element_is_not_shown_to_anyone() -> None:
    assert _found(COUNTDOWN.format(target="spare")) == []
