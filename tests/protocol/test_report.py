"""The report: plain words per finding, duplicates grouped, nothing loaded, values escaped."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from protocol.report import (
    REPORT_CSP,
    Screenshot,
    advice,
    group_findings,
    not_checked,
    render_html,
    unrepeated,
    verdict_lines,
)


def finding(pattern_type: str, url: str, **extra: Any) -> dict[str, Any]:
    base = {
        "id": f"{pattern_type}-{url}",
        "category": "security",
        "pattern_type": pattern_type,
        "severity": "low",
        "confidence": 0.9,
        "description": f"{pattern_type} seen",
        "plain_english": f"plain words for {pattern_type}",
        "evidence": "evidence text",
        "url": url,
    }
    return {**base, **extra}


def result(findings: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    base = {
        "trust_score": 55,
        "risk_level": "suspicious",
        "findings": findings,
        "url": "https://shop.test/",
        "final_url": "https://shop.test/",
        "security_results": {"security_headers": {}, "tls": {}},
        "signal_scores": {"security": 60, "phishing": 100, "content": 40, "intel": 90},
        "caps": [{"rule": "any_medium_finding", "cap": 89}],
        "uncapped_score": 66,
        "pages_scanned": 3,
        "tier": "standard_audit",
        "errors": [],
    }
    return {**base, **extra}


def test_the_same_finding_on_two_pages_is_one_group_naming_both_pages() -> None:
    items = [
        finding("csp_not_implemented", "https://shop.test/"),
        finding("csp_not_implemented", "https://shop.test/about"),
        finding("no_https", "https://shop.test/", severity="high"),
    ]
    groups = group_findings(items)
    assert [g.first["pattern_type"] for g in groups] == ["no_https", "csp_not_implemented"]
    assert groups[1].pages == ["https://shop.test/", "https://shop.test/about"]
    page = render_html(result(items))
    assert page.count("<article") == 2
    assert "https://shop.test/about" in page
    assert "(2 times)" in page


def test_a_header_finding_carries_the_fix_and_the_reference_for_that_header() -> None:
    tip = advice(finding("hsts_not_implemented", "https://shop.test/"))
    assert "Strict-Transport-Security: max-age=" in tip.fix
    assert tip.reference.endswith("/Strict-Transport-Security")
    page = render_html(result([finding("hsts_not_implemented", "https://shop.test/")]))
    assert "How to fix it:" in page
    assert tip.reference in page


def test_every_value_from_the_result_is_escaped() -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = render_html(
        result(
            [finding("x", "https://shop.test/", evidence=hostile, plain_english=hostile)],
            url=hostile,
            final_url=hostile,
        )
    )
    assert "<script" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_the_page_loads_nothing_and_its_style_is_allowed_by_hash() -> None:
    shot = Screenshot("entry page", "image/png", b"\x89PNG fake")
    page = render_html(result([finding("x", "https://shop.test/")]), screenshots=[shot])
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page)
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in REPORT_CSP
    assert "unsafe-inline" not in REPORT_CSP


def test_what_was_not_checked_names_the_modules_that_did_not_run_and_the_errors() -> None:
    lines = not_checked(result([], errors=["https://shop.test/blog: timed out"]))
    text = "\n".join(lines)
    assert "Not checked: forms." in text
    assert "Not checked: browser protections" not in text
    assert "Could not check: https://shop.test/blog: timed out" in text
    assert "Only 3 pages" in text


def test_the_verdict_in_words_gives_level_score_meaning_and_each_reason_once() -> None:
    items = [
        finding("a", "https://shop.test/", severity="high", plain_english="Same words."),
        finding("b", "https://shop.test/", severity="medium", plain_english="Same words."),
        finding("c", "https://shop.test/", severity="medium", plain_english="Other words."),
        finding("d", "https://shop.test/", severity="info", plain_english="Just a fact."),
    ]
    lines = verdict_lines(result(items))
    assert lines[0] == "Verdict: Suspicious (trust score 55/100)."
    assert "second look" in lines[1]
    assert lines[2:] == ["Main reasons:", "  - Same words.", "  - Other words."]


def test_the_narrative_drops_the_sentences_the_reasons_already_say() -> None:
    narrative = (
        "We checked 3 page(s). It shows warning signs.\nWhat worried us: A is bad. B is bad."
    )
    assert unrepeated(narrative, ["A is bad.", "B is bad."]) == (
        "We checked 3 page(s). It shows warning signs."
    )
    assert unrepeated(narrative, ["A is bad."]) == (
        "We checked 3 page(s). It shows warning signs.\nWhat worried us: B is bad."
    )
    items = [finding("a", "https://shop.test/", severity="high", plain_english="A is bad.")]
    page = render_html(result(items, narrative=narrative))
    assert page.count("A is bad.") == 2  # once among the reasons, once as the finding's title
