"""Targets that send bytes no well-behaved server sends: decoded once, reported, never a crash."""

from __future__ import annotations

import pytest

from protocol import exits
from tests.veritas.hostile import redirect_to, serve_raw
from tests.veritas.worker import run_worker
from veritas.config import Limits
from veritas.errors import FetchError, LimitExceeded
from veritas.fetch import Fetcher

BAD_HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html; charset=\xff\xfe\r\n"
    b"Server: Apache \xff\xc3\x28\r\n"
    b"X-Fine: caf\xc3\xa9\r\n"
    b"Content-Length: 30\r\nConnection: close\r\n\r\n"
    b"<html><title>t</title></html>\n"
)


async def test_non_utf8_header_bytes_become_text_without_surrogates() -> None:
    with serve_raw(BAD_HEADERS) as port:
        async with Fetcher(Limits(page_timeout=10), allow_private=True) as fetcher:
            page = await fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert page.header("server") == "Apache \xff\xc3("  # not UTF-8: read as ISO-8859-1
    assert page.header("x-fine") == "café"  # UTF-8 stays UTF-8
    assert page.header("content-type") == "text/html; charset=\xff\xfe"
    for name, value in page.headers:
        (name + value).encode("utf-8")  # raises on a lone surrogate


def test_an_audit_of_a_target_with_non_utf8_headers_ends_with_a_result() -> None:
    with serve_raw(BAD_HEADERS) as port:
        run = run_worker([f"http://127.0.0.1:{port}/", "--tier", "quick_scan"], {}, "stdout")
    assert run.returncode == exits.OK, run.stderr
    assert "SchemaError" not in run.stderr and "surrogate" not in run.stderr
    assert run.result["url"].startswith("http://127.0.0.1")


@pytest.mark.parametrize(
    "location",
    [
        b"http://[",
        b"//[::1",
        b"http://a:b/",
        b"http://:80/",
        b"http://../",
        b"http://a..b/",
        b"http://[::1]:99999/",
        b"\xff\xfe\xfd",
        b"http://\xff\xfe/",
        b"https:///nohost",
        b"http://256.256.256.256/",
    ],
)
async def test_a_broken_location_ends_the_chain_with_the_redirect_and_a_reason(
    location: bytes,
) -> None:
    with serve_raw(redirect_to(location)) as port:
        async with Fetcher(Limits(page_timeout=10), allow_private=True) as fetcher:
            try:
                page = await fetcher.fetch(f"http://127.0.0.1:{port}/")
            except FetchError as exc:  # our own error, with a reason: acceptable
                assert exc.reason
                return
    assert page.status == 302
    assert any("Location" in e or "redirect" in e for e in page.errors), page.errors


async def test_a_stalled_tls_handshake_cites_the_connect_timeout() -> None:
    with serve_raw(None) as port:
        limits = Limits(connect_timeout=0.3, page_timeout=60)
        async with Fetcher(limits, allow_private=True) as fetcher:
            with pytest.raises(LimitExceeded) as caught:
                await fetcher.fetch(f"https://127.0.0.1:{port}/")
    assert "connect timeout (0.3 s)" in caught.value.reason
    assert "page time limit" not in caught.value.reason


async def test_a_page_limit_shorter_than_the_connect_timeout_is_the_one_cited() -> None:
    with serve_raw(None) as port:
        limits = Limits(connect_timeout=60, page_timeout=0.3)
        async with Fetcher(limits, allow_private=True) as fetcher:
            with pytest.raises(LimitExceeded) as caught:
                await fetcher.fetch(f"https://127.0.0.1:{port}/")
    assert "page time limit (0.3 s)" in caught.value.reason


def test_an_audit_whose_handshake_stalls_says_which_limit_fired() -> None:
    with serve_raw(None) as port:
        run = run_worker(
            [f"https://127.0.0.1:{port}/", "--tier", "quick_scan"],
            {"VERITAS_CONNECT_TIMEOUT": "0.5", "VERITAS_PAGE_TIMEOUT": "30"},
            "stdout",
        )
    assert run.returncode == exits.NO_RESULT, run.stderr
    errors = [e["error"] for e in run.of_type("phase_error")]
    assert any("connect timeout (0.5 s)" in e for e in errors), errors
    assert not any("page time limit" in e for e in errors), errors
