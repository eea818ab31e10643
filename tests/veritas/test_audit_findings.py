"""The audit's findings as a whole: bounded, merged across pages, and honest about gaps.

Each test runs the auditor's own phases after the scout (`Orchestrator.analyse`) on pages
written here, and reads the events it emits and the `audit_result` it ends with.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from protocol.events import Event
from protocol.framing import DEFAULT_MAX_FRAME_SIZE, encode_frame
from tests.veritas.analysis.sites import page
from veritas.channel import Channel
from veritas.config import SECURITY_MODULE_NAMES, load_config
from veritas.emitter import Emitter
from veritas.orchestrator import Orchestrator
from veritas.page import Page


def analyse(
    pages: list[Page], environ: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[Event]]:
    config = load_config(
        [pages[0].url, "--tier", "deep_forensic"], environ or {}, SECURITY_MODULE_NAMES
    )
    events: list[Event] = []
    channel = Channel(None, None, -1, config.limits, logging.getLogger(__name__).warning)
    orchestrator = Orchestrator(config, Emitter(channel, [events.append]))
    orchestrator.state.pages.extend(pages)
    orchestrator.state.addresses.append("203.0.113.10")
    result = asyncio.run(orchestrator.analyse())
    assert result is not None
    return result, events


def test_a_page_with_thousands_of_password_forms_gives_a_bounded_result() -> None:
    forms = "".join(
        f'<form action="https://c{i % 97}.collector-example.net/p{i}" method="post">'
        f'<input type="password" name="p{i}"></form>'
        for i in range(15_000)
    )
    body = f"<html><head><title>Sign in</title></head><body>{forms}</body></html>"
    assert len(body) > 1_500_000
    result, events = analyse([page("https://www.huge-forms-example.co.uk/", body)])
    frames = [encode_frame(e) for e in events]  # raises if any event outgrows the frame limit
    assert max(len(f) for f in frames) < DEFAULT_MAX_FRAME_SIZE // 8
    findings = [e for e in events if e.type == "finding"]
    assert len(findings) <= 400
    per_pattern = Counter(e.fields["finding"]["pattern_type"] for e in findings)
    assert max(per_pattern.values()) <= 25
    omitted = result["findings_omitted"]
    assert omitted["total"] > 10_000
    assert "security/credentials_to_other_domain" in omitted["by_pattern"]
    assert "left out" in result["narrative"]


def test_finding_limits_come_from_the_configuration() -> None:
    forms = "".join(
        f'<form action="mailto:x{i}@example.com"><input name="n"></form>' for i in range(30)
    )
    body = f"<html><body>{forms}</body></html>"
    environ = {"VERITAS_MAX_FINDINGS_PER_PATTERN": "3"}
    result, _ = analyse([page("https://www.mail-forms-example.co.uk/", body)], environ)
    kinds = Counter(f["pattern_type"] for f in result["findings"])
    assert kinds["mailto_form"] == 3
    assert result["findings_omitted"]["by_pattern"]["security/mailto_form"] == 27


def test_the_same_finding_on_several_pages_is_one_finding_listing_them() -> None:
    form = '<form action="mailto:orders@example.com"><input name="n"></form>'
    body = f"<html><body><p>Order here</p>{form}</body></html>"
    urls = [f"https://www.repeat-example.co.uk/{name}" for name in ("", "a", "b")]
    result, events = analyse([page(u, body) for u in urls])
    mailto = [f for f in result["findings"] if f["pattern_type"] == "mailto_form"]
    assert len(mailto) == 1
    assert mailto[0]["pages"] == urls
    emitted = [e for e in events if e.type == "finding"]
    assert sum(e.fields["finding"]["pattern_type"] == "mailto_form" for e in emitted) == 1


def test_a_page_cut_short_lowers_confidence_and_the_narrative_says_so() -> None:
    whole, _ = analyse([page("https://www.cut-example.co.uk/")])
    assert whole["confidence"] == 1.0
    assert whole["incomplete"] == []
    cut = page(
        "https://www.cut-example.co.uk/",
        truncated=True,
        errors=("page time limit of 20 s reached after 1200 bytes",),
    )
    result, _ = analyse([cut])
    assert result["confidence"] < 1.0
    assert "page time limit of 20 s" in result["incomplete"][0]
    assert "could not read everything" in result["narrative"]


def test_a_bare_ip_address_is_one_finding_for_the_site() -> None:
    pages = [page(f"http://203.0.113.7/{p}") for p in ("", "about", "contact")]
    result, _ = analyse(pages, {"VERITAS_ALLOW_PRIVATE_TARGETS": "1"})
    ip = [f for f in result["findings"] if "ip" in f["pattern_type"].split("_")]
    assert [f["pattern_type"] for f in ip] == ["ip_address_site"]


def test_plain_http_without_forms_is_not_below_probably_safe_for_that_alone() -> None:
    body = "<html><head><title>Mill Lane Bakery</title></head><body><p>Bread.</p></body></html>"
    result, _ = analyse([page("http://www.mill-lane-bakery.co.uk/", body)])
    no_https = [f for f in result["findings"] if f["pattern_type"] == "no_https"]
    assert no_https[0]["severity"] == "medium"
    assert result["risk_level"] in ("probably_safe", "trusted")
