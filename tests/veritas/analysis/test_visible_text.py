"""What is read as text: visible blocks only, never code, styling, comments or hidden elements."""

from __future__ import annotations

from veritas.analysis import html

PAGE = """<html><head><title>t</title><style>.x{content:"Only 2 left"}</style></head><body>
<!-- Only 3 left in stock -->
<div id="main"><p class="stock">Hurry! Only <b>2</b> left<script>var s = "Sale ends";</script></p>
<span hidden>hidden by attribute</span>
<div style="display: none">hidden by display</div>
<div style="visibility:hidden">hidden by visibility</div>
<div aria-hidden="true">Shown, though not to screen readers</div>
<div class="sr-only">hidden by a framework class</div>
<noscript>Please enable JavaScript</noscript>
<template><p>a template</p></template>
<input type="hidden" name="token" value="secret">
<ul><li>First item</li><li>Second <a href="/x">linked</a> item</li></ul>
<div>before <div>inner block</div> after</div></div></body></html>"""


def test_segments_are_the_visible_blocks_in_order() -> None:
    doc = html.parse(PAGE, "https://shop.example.com/")
    assert [s.text for s in doc.segments] == [
        "Hurry! Only 2 left",
        "Shown, though not to screen readers",
        "First item",
        "Second linked item",
        "before",
        "inner block",
        "after",
    ]


def test_a_segment_says_where_it_is() -> None:
    doc = html.parse(PAGE, "https://shop.example.com/")
    assert doc.segments[0].where == "body > div#main > p.stock"


def test_hidden_code_and_comments_never_reach_the_page_text() -> None:
    text = html.parse(PAGE, "https://shop.example.com/").text
    for unseen in ("hidden", "Sale ends", "Only 3", "enable JavaScript", "template", "secret"):
        assert unseen not in text


def test_visible_elements_are_known_by_id_and_class() -> None:
    doc = html.parse(PAGE, "https://shop.example.com/")
    assert doc.visible["#main"] == "body > div#main"
    assert ".stock" in doc.visible
    assert ".sr-only" not in doc.visible


def test_a_menu_state_class_on_the_body_does_not_make_the_page_a_menu() -> None:
    doc = html.parse(
        '<html><body class="menu-closed product-page"><nav class="menu"><p>Shoes</p></nav>'
        '<div class="main-menu"><p>Bags</p></div><main class="menu-open"><p>Only 2 left</p>'
        "</main></body></html>",
        "https://shop.example.com/",
    )
    navigation = {s.text: s.navigation for s in doc.segments}
    assert navigation == {"Shoes": True, "Bags": True, "Only 2 left": False}
