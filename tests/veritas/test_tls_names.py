"""A clean https site under a real-looking name, through the real fetcher and the real auditor.

`--connect-to` points shop.example.com at a local server and `--ca-file` trusts the test CA,
so the certificate chain and the host name are validated as they would be on the internet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from protocol import exits
from protocol.targets import parse_connect_to
from tests.veritas.tls_site import serve_https
from tests.veritas.worker import run_worker
from veritas.config import Limits
from veritas.fetch import Fetcher

NAME = "shop.example.com"
TLS_FINDINGS = {
    "no_https",
    "self_signed_certificate",
    "certificate_hostname_mismatch",
    "certificate_verify_failed",
    "old_tls_protocol",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_expires_soon",
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Veritas Test Authority")


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def port(ca: trustme.CA) -> Iterator[int]:
    with serve_https(ca, NAME) as port:
        yield port


async def test_the_certificate_validates_under_the_name_through_connect_to(
    ca_file: Path, port: int
) -> None:
    rule = parse_connect_to(f"{NAME}:443:127.0.0.1:{port}")
    async with Fetcher(Limits(page_timeout=10), True, connect_to=[rule], ca_file=ca_file) as f:
        page = await f.fetch(f"https://{NAME}/")
    assert (page.status, page.final_url, page.ip) == (200, f"https://{NAME}/", "127.0.0.1")
    tls = page.tls
    assert tls is not None
    assert tls.verify_error is None
    assert tls.hostname_matches and not tls.self_signed
    assert tls.san == (NAME,)
    assert tls.issuer["organizationName"] == "Veritas Test Authority"


async def test_without_the_ca_file_the_same_site_fails_verification(port: int) -> None:
    rule = parse_connect_to(f"{NAME}:443:127.0.0.1:{port}")
    async with Fetcher(Limits(page_timeout=10), True, connect_to=[rule]) as fetcher:
        page = await fetcher.fetch(f"https://{NAME}/")
    assert page.tls is not None and page.tls.verify_error is not None


def test_an_audit_of_the_clean_https_site_is_not_penalised_for_tls(
    ca_file: Path, port: int
) -> None:
    args = [f"https://{NAME}/", "--tier", "standard_audit", "--ca-file", str(ca_file)]
    run = run_worker([*args, "--connect-to", f"{NAME}:443:127.0.0.1:{port}"], {}, "stdout")
    assert run.returncode == exits.OK, run.stderr
    result = run.result
    assert result["final_url"] == f"https://{NAME}/"
    tls = result["security_results"]["tls"]
    assert (tls["https"], tls["verify_error"], tls["hostname_matches"]) == (True, None, True)
    assert (tls["findings"], tls["score"]) == ([], 100)
    assert not {f["pattern_type"] for f in result["findings"]} & TLS_FINDINGS
    assert result["pages_scanned"] == 4
    assert result["risk_level"] == "trusted"
