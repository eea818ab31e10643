"""Helpers for the service tests: a configured app on a real port, the fake worker, SSE reading."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from server.config import ServerConfig
from tests.protocol.sse_parser import Message, parse

Client = TestClient[web.Request, web.Application]
FAKE_WORKER = Path(__file__).parent / "workers" / "fake_worker.py"
TARGET = "http://127.0.0.1:9/"  # never fetched: the fake worker only echoes it
TERMINAL = ("audit_complete", "audit_error")


def fake_command(behaviour: str = "normal", **options: int | str) -> tuple[str, ...]:
    args = [sys.executable, str(FAKE_WORKER), "--behaviour", behaviour]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return tuple(args)


def service_config(behaviour: str = "normal", **overrides: Any) -> ServerConfig:
    options = overrides.pop("worker_options", {})
    base = ServerConfig(
        data_dir=None,
        allow_private_targets=True,
        worker_command=fake_command(behaviour, **options),
        kill_grace=1.0,
    )
    return replace(base, **overrides)


def messages(raw: bytes) -> list[Message]:
    return parse(raw).messages


def event_data(message: Message) -> dict[str, Any]:
    data = json.loads(message.data)
    assert isinstance(data, dict)
    return data


def ids(found: list[Message]) -> list[int]:
    return [int(m.last_event_id) for m in found]


def types(found: list[Message]) -> list[str]:
    return [m.type for m in found]


async def start_audit(client: Client, **body: Any) -> str:
    response = await client.post("/audits", json={"url": TARGET, **body})
    assert response.status == 202, await response.text()
    audit_id = (await response.json())["id"]
    assert isinstance(audit_id, str)
    return audit_id


async def read_stream(client: Client, audit_id: str, **headers: str) -> bytes:
    """The whole event stream, read until the server ends it."""
    response = await client.get(f"/audits/{audit_id}/events", headers=headers)
    assert response.status == 200, await response.text()
    return await response.read()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    """Wait for a state the test depends on; fail (not hang) if it never comes."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110  (state of another process)
            await asyncio.sleep(0.02)


async def status_of(client: Client, audit_id: str) -> str:
    response = await client.get(f"/audits/{audit_id}")
    status = (await response.json())["status"]
    assert isinstance(status, str)
    return status


async def finished(client: Client, audit_id: str) -> None:
    async def done() -> bool:
        return await status_of(client, audit_id) in ("complete", "error")

    await until(done)
