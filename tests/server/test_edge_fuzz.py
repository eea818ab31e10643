"""Fuzzing the API: whatever a client sends, the answer is never a 5xx and every error is JSON.

The server runs as `python -m server` runs it (counted connections, its own handlers) on a
loop in a second thread, so hypothesis can drive plain blocking requests at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.events import IPC_MODES, SECURITY_MODULES, TIERS, VERDICT_MODES
from tests.server.edge_site import edge_site
from tests.server.harness import service_config

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@dataclass
class Served:
    port: int
    stop: threading.Event


@pytest.fixture(scope="module")
def served() -> Iterator[int]:
    """One server for every example, whose workers exit at once (each audit ends quickly)."""
    ports: list[int] = []
    ready, stop = threading.Event(), threading.Event()

    async def run() -> None:
        config = service_config(port=0, worker_command=(shutil.which("true") or "true",))
        async with edge_site(config) as site:
            ports.append(site.port)
            ready.set()
            while not stop.is_set():  # noqa: ASYNC110  (set by another thread)
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the server did not start"
    yield ports[0]
    stop.set()
    thread.join(30)


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def send(
    port: int, method: str, target: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with contextlib.closing(connection):
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        # An event stream never ends by itself: its first bytes are enough.
        streaming = response.getheader("Content-Type", "").startswith("text/event-stream")
        data = response.read(1) if streaming else response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def check_answer(method: str, status: int, headers: dict[str, str], body: bytes) -> None:
    assert status < 500, (status, body[:300])
    if status >= 400 and method != "HEAD":
        assert headers["content-type"].startswith("application/json"), (status, headers)
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message", "field"} and error["message"]


# Text as a client may send it, lone surrogates included (JSON can carry them as \uXXXX),
# with the characters that broke the server before drawn often.
AWKWARD = st.sampled_from(["\ud800", "\udfff", "\x00", "\n", "\u00b2", "\uff11", "%", "\u3002"])
# Joined from a list: `st.text` never yields a lone surrogate, whatever its alphabet.
ANY_TEXT = st.lists(st.characters() | AWKWARD, max_size=40).map("".join)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
KNOWN_VALUES = {
    "url": st.one_of(
        st.sampled_from(["http://127.0.0.1:9/", "https://example.test/a?b=c"]),
        ANY_TEXT.map(lambda text: f"http://127.0.0.1:9/{text}"),
        ANY_TEXT.map(lambda text: f"http://{text}"),
        ANY_TEXT,
    ),
    "tier": st.sampled_from(TIERS) | ANY_TEXT,
    "verdict_mode": st.sampled_from(VERDICT_MODES) | ANY_TEXT,
    "ipc": st.sampled_from(IPC_MODES) | ANY_TEXT,
    "security_modules": st.lists(st.sampled_from(SECURITY_MODULES) | ANY_TEXT, max_size=4),
    "connect_to": st.lists(st.just("example.test:80:127.0.0.1:9") | ANY_TEXT, max_size=3),
    "ca_pem": st.just("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") | ANY_TEXT,
}
FIELD_VALUES = st.one_of(
    *(st.tuples(st.just(name), values | JSON_VALUES) for name, values in KNOWN_VALUES.items()),
    st.tuples(ANY_TEXT, JSON_VALUES),
)
AUDIT_BODIES = st.one_of(
    # Well-formed but for the values: each field gets as far as its own check.
    st.fixed_dictionaries(
        {"url": KNOWN_VALUES["url"]},
        optional={name: values for name, values in KNOWN_VALUES.items() if name != "url"},
    ),
    st.lists(FIELD_VALUES, max_size=6).map(dict),
)


@EXAMPLES
@given(body=AUDIT_BODIES)
def test_any_json_object_posted_gets_no_5xx_and_json_errors(
    served: int, no_errors_logged: None, body: dict[str, Any]
) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \uXXXX
    status, headers, answer = send(served, "POST", "/audits", raw)
    check_answer("POST", status, headers, answer)
    assert status in (202, 400, 429), answer


@EXAMPLES
@given(
    raw=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    encoding=st.sampled_from(["", "gzip", "deflate", "identity"]),
)
def test_any_bytes_posted_get_no_5xx_and_json_errors(
    served: int, no_errors_logged: None, raw: bytes, encoding: str
) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}
    status, answer_headers, answer = send(served, "POST", "/audits", raw, **headers)
    check_answer("POST", status, answer_headers, answer)


SEGMENT = ANY_TEXT.map(lambda text: quote(text.encode("utf-8", "surrogatepass"), safe=""))
PATHS = st.one_of(
    st.sampled_from(["/audits", "/healthz", "/metrics", "/", "/static/app.js", "/openapi.json"]),
    SEGMENT.map(lambda s: f"/audits/{s}"),
    SEGMENT.map(lambda s: f"/audits/{s}/events"),
    SEGMENT.map(lambda s: f"/static/{s}"),
    SEGMENT.map(lambda s: f"/{s}"),
    st.just("/audits/AAAAAAAAAAAAAAAAAAAAAA/events"),
    SEGMENT.map(lambda s: f"/audits/AAAAAAAAAAAAAAAAAAAAAA/screenshots/{s}"),
    SEGMENT.map(lambda s: f"/audits/{s}/report"),
    SEGMENT.map(lambda s: f"/audits/AAAAAAAAAAAAAAAAAAAAAA/compare/{s}"),
)
QUERY_VALUES = ANY_TEXT | st.integers().map(str) | st.just("9" * 5000) | st.just("\u00b2")
QUERIES = st.dictionaries(
    st.sampled_from(["limit", "status", "before", "last_event_id", "url", "host", "download"])
    | ANY_TEXT,
    QUERY_VALUES,
    max_size=3,
)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@EXAMPLES
@given(method=METHODS, path=PATHS, query=QUERIES, last_event_id=HEADER_TEXT)
def test_any_route_and_query_gets_no_5xx_and_json_errors(  # noqa: PLR0917
    served: int,
    no_errors_logged: None,
    method: str,
    path: str,
    query: dict[str, str],
    last_event_id: str,
) -> None:
    encoded = {
        k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass")
        for k, v in query.items()
    }
    target = f"{path}?{urlencode(encoded)}" if encoded else path
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    status, answer_headers, answer = send(served, method, target, body, **headers)
    check_answer(method, status, answer_headers, answer)
