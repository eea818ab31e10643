"""TLS details of an https fetch, recorded even when the certificate does not verify."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from veritas.certificate import hostname_matches
from veritas.config import Limits
from veritas.fetch import Fetcher

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh self-signed certificate for 'veritas.test', valid for two days: (cert, key)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=veritas.test/O=Veritas Test", "-addext", "subjectAltName=DNS:veritas.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def https_url(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """An https server on 127.0.0.1 presenting that certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="<p>secure</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


async def test_an_unverifiable_certificate_is_recorded_with_the_reason(https_url: str) -> None:
    async with Fetcher(Limits(page_timeout=10), allow_private=True) as fetcher:
        page = await fetcher.fetch(https_url)
    assert page.status == 200
    assert page.body == b"<p>secure</p>"
    tls = page.tls
    assert tls is not None
    assert tls.version in ("TLSv1.2", "TLSv1.3")
    assert tls.cipher
    assert tls.verify_error is not None and "self-signed" in tls.verify_error
    assert tls.subject["commonName"] == "veritas.test"
    assert tls.subject["organizationName"] == "Veritas Test"
    assert tls.self_signed
    assert tls.san == ("veritas.test",)
    assert not tls.hostname_matches  # the certificate names veritas.test, we asked 127.0.0.1
    assert tls.not_before is not None and tls.not_after is not None
    assert tls.not_after - tls.not_before == pytest.approx(2 * 86400, abs=5)


@pytest.mark.parametrize(
    ("host", "names", "matches"),
    [
        ("www.example.com", ["www.example.com"], True),
        ("www.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], False),
        ("example.com", ["*.example.com"], False),
        ("WWW.Example.com.", ["www.example.com"], True),
        ("evil.com", ["example.com"], False),
    ],
)
def test_hostname_matching_follows_rfc_6125(host: str, names: list[str], matches: bool) -> None:
    assert hostname_matches(host, names) is matches
