"""`connect_to` and `ca_pem` on POST /audits: validated with clear 400s, judged by the guard,
and handed to the real worker, which validates TLS under the requested name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from aiohttp.test_utils import TestClient

from protocol.targets import parse_endpoints
from server.api.app import create_app
from server.config import ServerConfig
from tests.server.harness import event_data, messages, service_config, types
from tests.veritas.tls_site import serve_https

NAME = "shop.example.com"


@pytest.fixture
async def guarded(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(service_config(allow_private_targets=False)))


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    return error


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"connect_to": "a:1:b:2"}, "connect_to", "list of HOST:PORT:ADDR:PORT"),
        ({"connect_to": [1]}, "connect_to", "list of HOST:PORT:ADDR:PORT"),
        ({"connect_to": ["a:1:b"]}, "connect_to", "HOST:PORT:ADDR:PORT"),
        ({"connect_to": ["a:x:b:2"]}, "connect_to", "not a port number"),
        ({"connect_to": ["8.8.8.8:1:b:2"]}, "connect_to", "HOST must be a name"),
        ({"connect_to": ["a:1:b:2"] * 9}, "connect_to", "at most 8"),
        ({"ca_pem": 5}, "ca_pem", "PEM text"),
        ({"ca_pem": "hello"}, "ca_pem", "BEGIN CERTIFICATE"),
        (
            {"ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
            "ca_pem",
            "no usable CA certificate",
        ),
        ({"ca_pem": "-----BEGIN CERTIFICATE-----" + "A" * 40000}, "ca_pem", "larger than"),
    ],
)
async def test_bad_network_options_are_400_naming_the_field(
    guarded: TestClient, extra: dict[str, Any], field: str, says: str
) -> None:
    body = {"url": f"https://{NAME}/", **extra}
    error = await error_of(await guarded.post("/audits", json=body), 400)
    assert error["field"] == field
    assert says in error["message"]


async def test_a_connect_to_a_private_address_is_403_on_that_field(guarded: TestClient) -> None:
    body = {"url": f"https://{NAME}/", "connect_to": [f"{NAME}:443:127.0.0.1:8443"]}
    error = await error_of(await guarded.post("/audits", json=body), 403)
    assert (error["code"], error["field"]) == ("forbidden_target", "connect_to")
    assert "127.0.0.1" in error["message"]


@pytest.mark.parametrize(
    "host",
    [
        "127\u30020\u30020\u30021",
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
        "127.0.0\u30021",
        "169\u3002254\u3002169\u3002254",
        "192.0.0.8",
        "[3fff::1]",
    ],
)
async def test_the_server_refuses_what_the_auditor_refuses(guarded: TestClient, host: str) -> None:
    error = await error_of(await guarded.post("/audits", json={"url": f"http://{host}/"}), 403)
    assert (error["code"], error["field"]) == ("forbidden_target", "url")


async def test_allowed_endpoints_open_the_guard_for_themselves_only(
    aiohttp_client: Any,
) -> None:
    opened = parse_endpoints("127.0.0.1:8701")
    client = await aiohttp_client(
        create_app(service_config(allow_private_targets=False, allow_targets=opened))
    )
    accepted = await client.post("/audits", json={"url": "http://127.0.0.1:8701/"})
    assert accepted.status == 202, await accepted.text()
    for url in ("http://127.0.0.1:8702/", "http://localhost:8701/", "http://10.0.0.1:8701/"):
        error = await error_of(await client.post("/audits", json={"url": url}), 403)
        assert error["code"] == "forbidden_target"
    through_rule = {"url": "http://127.0.0.1:8701/", "connect_to": ["::127.0.0.2:8701"]}
    assert (await client.post("/audits", json=through_rule)).status == 403


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def port(ca: trustme.CA) -> Iterator[int]:
    with serve_https(ca, NAME) as port:
        yield port


async def test_a_real_worker_audits_the_https_name_with_the_requested_ca(
    aiohttp_client,  # type: ignore[no-untyped-def]
    ca: trustme.CA,
    port: int,
) -> None:
    config = ServerConfig(data_dir=None, allow_private_targets=True)
    client: TestClient = await aiohttp_client(create_app(config))
    body = {
        "url": f"https://{NAME}/",
        "tier": "quick_scan",
        "connect_to": [f"{NAME}:443:127.0.0.1:{port}"],
        "ca_pem": ca.cert_pem.bytes().decode("ascii"),
    }
    response = await client.post("/audits", json=body, headers={"Accept": "text/event-stream"})
    found = messages(await response.read())
    kinds = types(found)
    assert kinds[-1] == "audit_complete", found[-1].data
    result = event_data(found[kinds.index("audit_result")])["result"]
    tls = result["security_results"]["tls"]
    assert (tls["https"], tls["verify_error"], tls["hostname_matches"]) == (True, None, True)
    assert tls["findings"] == []
    assert result["final_url"] == f"https://{NAME}/"
