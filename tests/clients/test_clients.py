"""Real clients against the real server: curl, httpx-sse and Node's `eventsource` package.

Each follows an audit live from its start to its terminal event and must see every event
once, with contiguous ids; each resumes from a Last-Event-ID and must get exactly the rest.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Final

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.clients.service import (
    AUDIT_TIMEOUT,
    Service,
    assert_complete_and_contiguous,
    events,
    start_audit,
    wait_finished,
)
from tests.protocol.sse_parser import Message

CLIENTS_DIR: Final = Path(__file__).parent
NODE_CLIENT: Final = CLIENTS_DIR / "node_client.mjs"
INSTALL_HINT: Final = "run scripts/install-test-deps.sh"


async def run(*command: str, cwd: Path | None = None) -> bytes:
    """Run a client to completion; its stdout, or a failure quoting its stderr."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(AUDIT_TIMEOUT):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, f"{command[0]} exited {process.returncode}: {err.decode()}"
    return out


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed; {INSTALL_HINT}")
    return path


def a_resume_point(found: list[Message]) -> int:
    """An id in the middle of a finished audit: some events seen, some still to come."""
    assert len(found) >= 4, [m.type for m in found]
    return int(found[len(found) // 2].last_event_id)


# ---------- curl ----------


async def test_curl_follows_a_live_audit_to_its_end(service: Service, target: str) -> None:
    audit_id = start_audit(service, target)
    out = await run(
        require("curl"), "-N", "-sS", "--fail", service.url(f"/audits/{audit_id}/events")
    )
    assert_complete_and_contiguous(events(out))


async def test_curl_starts_and_watches_an_audit_in_one_command(
    service: Service, target: str
) -> None:
    body = json.dumps({"url": target, "tier": "quick_scan"})
    out = await run(
        require("curl"), "-N", "-sS", "--fail", "-H", "Accept: text/event-stream",
        "-H", "Content-Type: application/json", "-d", body, service.url("/audits"),
    )  # fmt: skip
    found = events(out)
    assert_complete_and_contiguous(found)
    assert found[0].type == "audit_queued"
    assert json.loads(found[0].data)["url"] == target


async def test_curl_resumes_after_a_last_event_id(service: Service, target: str) -> None:
    full = wait_finished(service, start_audit(service, target))
    after = a_resume_point(full)
    audit_id = json.loads(full[0].data)["audit_id"]
    out = await run(
        require("curl"), "-N", "-sS", "--fail", "-H", f"Last-Event-ID: {after}",
        service.url(f"/audits/{audit_id}/events"),
    )  # fmt: skip
    rest = events(out)
    assert_complete_and_contiguous(rest, first=after + 1)
    assert [m.data for m in rest] == [m.data for m in full[after:]]


# ---------- httpx-sse ----------


async def httpx_events(url: str, last_event_id: int | None = None) -> list[tuple[str, str, str]]:
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    found: list[tuple[str, str, str]] = []
    timeout = httpx.Timeout(AUDIT_TIMEOUT)
    async with (
        httpx.AsyncClient(timeout=timeout) as client,
        aconnect_sse(client, "GET", url, headers=headers) as source,
    ):
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            # httpx-sse also yields the bare `retry:` block, which the spec does not dispatch.
            if sse.data or sse.id:
                found.append((sse.id, sse.event, sse.data))
    return found


def as_messages(found: list[tuple[str, str, str]]) -> list[Message]:
    return [Message(type=event, data=data, last_event_id=id_) for id_, event, data in found]


async def test_httpx_sse_follows_a_live_audit_to_its_end(service: Service, target: str) -> None:
    audit_id = start_audit(service, target)
    found = as_messages(await httpx_events(service.url(f"/audits/{audit_id}/events")))
    assert_complete_and_contiguous(found)
    assert found[0].type == "audit_queued"


async def test_httpx_sse_resumes_after_a_last_event_id(service: Service, target: str) -> None:
    audit_id = start_audit(service, target)
    full = wait_finished(service, audit_id)
    after = a_resume_point(full)
    rest = as_messages(await httpx_events(service.url(f"/audits/{audit_id}/events"), after))
    assert_complete_and_contiguous(rest, first=after + 1)
    assert [m.data for m in rest] == [m.data for m in full[after:]]


# ---------- Node, npm eventsource ----------


def node_modules() -> Path:
    path = CLIENTS_DIR / "node_modules" / "eventsource"
    if not path.is_dir():
        pytest.fail(f"the npm eventsource package is missing; {INSTALL_HINT}")
    return path


async def node_events(url: str, last_event_id: int | None = None) -> list[Message]:
    node_modules()
    args = [require("node"), str(NODE_CLIENT), url]
    if last_event_id is not None:
        args.append(str(last_event_id))
    out = await run(*args, cwd=CLIENTS_DIR)
    lines = [json.loads(line) for line in out.decode().splitlines()]
    return [Message(type=x["type"], data=x["data"], last_event_id=x["id"]) for x in lines]


async def test_node_eventsource_follows_a_live_audit_to_its_end(
    service: Service, target: str
) -> None:
    audit_id = start_audit(service, target)
    found = await node_events(service.url(f"/audits/{audit_id}/events"))
    assert_complete_and_contiguous(found)
    assert found[0].type == "audit_queued"


async def test_node_eventsource_resumes_after_a_last_event_id(
    service: Service, target: str
) -> None:
    audit_id = start_audit(service, target)
    full = wait_finished(service, audit_id)
    after = a_resume_point(full)
    rest = await node_events(service.url(f"/audits/{audit_id}/events"), after)
    assert_complete_and_contiguous(rest, first=after + 1)
    assert [m.data for m in rest] == [m.data for m in full[after:]]
