"""Fetching under limits against the local test site: every hostile page ends within its limit."""

from __future__ import annotations

import zlib

import pytest

from protocol import exits
from tests.veritas.site import BIG_SIZE, SUBPAGES
from tests.veritas.worker import run_worker
from veritas.config import Limits
from veritas.errors import LimitExceeded
from veritas.fetch import Fetcher, Inflater

LIMIT = 256 * 1024
LIMITS = Limits(page_timeout=1.0, max_page_bytes=LIMIT, max_redirects=5, max_header_size=8192)


async def fetch(url: str, limits: Limits = LIMITS) -> object:
    async with Fetcher(limits, allow_private=True) as fetcher:
        return await fetcher.fetch(url)


async def test_a_normal_page_records_status_headers_body_address_and_timing(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/")
    assert (page.status, page.final_url, page.truncated, page.errors) == (
        200,
        site_url + "/",
        False,
        (),
    )
    assert b"Welcome to Local Shop" in page.body
    assert page.header("x-frame-options") == "DENY"
    assert page.ip == "127.0.0.1"
    assert page.tls is None
    assert page.elapsed > 0


async def test_a_redirect_chain_is_followed_by_hand_and_recorded(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/chain/3")
    assert page.final_url == site_url + "/chain/0"
    assert [(h.url, h.status, h.location) for h in page.redirects] == [
        (site_url + "/chain/3", 302, "/chain/2"),
        (site_url + "/chain/2", 302, "/chain/1"),
        (site_url + "/chain/1", 302, "/chain/0"),
    ]
    assert page.status == 200


async def test_a_redirect_loop_is_detected_and_reported(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/loop/a")
    assert page.status == 302
    assert any("redirect loop" in e for e in page.errors)
    assert len(page.redirects) == 1


async def test_redirects_stop_at_the_limit(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/many/50")
    assert len(page.redirects) == LIMITS.max_redirects
    assert any("more than 5 redirects" in e for e in page.errors)


async def test_a_decompression_bomb_stops_at_the_byte_limit(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/bomb")
    assert len(page.body) == LIMIT
    assert page.truncated
    assert any("after decompression" in e for e in page.errors)


async def test_an_oversized_page_stops_at_the_byte_limit(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/big")
    assert len(page.body) == LIMIT < BIG_SIZE
    assert page.truncated
    assert any("limit of 262144 bytes" in e for e in page.errors)


async def test_a_page_that_drips_forever_ends_at_the_page_time_limit(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        page = await fetcher.fetch(site_url + "/drip")
    assert page.truncated
    assert page.body.startswith(b"<html><body>x")
    assert any("page time limit of 1 s" in e for e in page.errors)


async def test_a_server_that_never_answers_is_a_limit_error(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        with pytest.raises(LimitExceeded, match="no response within the page time limit"):
            await fetcher.fetch(site_url + "/stall")


async def test_an_oversized_header_is_refused(site_url: str) -> None:
    async with Fetcher(LIMITS, allow_private=True) as fetcher:
        with pytest.raises(LimitExceeded, match="8192 bytes"):
            await fetcher.fetch(site_url + "/fat-header")


def test_the_inflater_never_returns_more_than_one_byte_past_the_room() -> None:
    bomb = zlib.compress(b"\0" * 10_000_000)
    assert len(Inflater("deflate").feed(bomb, 1000)) == 1001


def test_raw_deflate_is_decoded_too() -> None:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = packer.compress(b"hello world") + packer.flush()
    assert Inflater("deflate").feed(raw, 100) == b"hello world"


# The whole audit against each hostile entry page: it ends, within its limits, saying why.
HOSTILE = [
    ("/bomb", 0, "after decompression"),
    ("/big", 0, "limit of 262144 bytes"),
    ("/drip", 0, "page time limit of 1 s"),
    ("/loop/a", 0, "redirect loop"),
    ("/many/30", 0, "more than 5 redirects"),
    ("/stall", exits.NO_RESULT, "no response within the page time limit"),
    ("/fat-header", exits.NO_RESULT, "8192 bytes"),
]
HOSTILE_ENV = {
    "VERITAS_PAGE_TIMEOUT": "1",
    "VERITAS_MAX_PAGE_BYTES": str(LIMIT),
    "VERITAS_MAX_REDIRECTS": "5",
    "VERITAS_MAX_HEADER_SIZE": "8192",
}


@pytest.mark.parametrize(("path", "status", "why"), HOSTILE)
def test_an_audit_of_a_hostile_page_ends_and_reports_why(
    site_url: str, path: str, status: int, why: str
) -> None:
    run = run_worker([site_url + path, "--tier", "quick_scan"], HOSTILE_ENV, mode="stdout")
    assert run.returncode == status, run.stderr
    if status == 0:
        assert any(why in error for error in run.result["errors"]), run.result["errors"]
    else:
        errors = [e["error"] for e in run.of_type("phase_error")]
        assert any(why in error for error in errors), errors
        assert run.of_type("audit_result") == []


def test_the_scout_fetches_same_site_pages_and_scripts_within_the_tier(site_url: str) -> None:
    run = run_worker([site_url + "/", "--tier", "standard_audit"], mode="stdout")
    assert run.returncode == 0, run.stderr
    (scout,) = [e for e in run.of_type("phase_complete") if e["phase"] == "scout"]
    pages = [p["url"] for p in scout["summary"]["pages"]]
    assert pages == [site_url + "/", *(f"{site_url}/{name}" for name in SUBPAGES[:4])]
    assert [s["url"] for s in scout["summary"]["scripts"]] == [site_url + "/static/app.js"]
    assert all("elsewhere.invalid" not in p for p in pages)
    assert run.result["pages_scanned"] == 5
