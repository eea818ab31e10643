"""Log lines: one JSON object per line with the audit id, from `extra` or from the context."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from server.operations.logs import audit_context, configure_logging
from tests.server.server_process import post_audit, read_events, running_server, worker_command


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = configure_logging("json", "DEBUG", out)
    yield out
    logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in entries if entry["logger"] == "server.test"]


def test_each_record_is_one_json_object_per_line(stream: io.StringIO) -> None:
    log = logging.getLogger("server.test")
    log.info("first\nsecond line", extra={"audit_id": "A1", "pid": 42})
    log.warning("plain")
    first, second = lines(stream)
    assert first["message"] == "first\nsecond line"
    assert first["audit_id"] == "A1"
    assert first["pid"] == 42
    assert first["level"] == "info"
    assert first["logger"] == "server.test"
    assert second["audit_id"] is None


async def test_tasks_started_in_an_audit_context_log_its_id(stream: io.StringIO) -> None:
    log = logging.getLogger("server.test")

    async def work() -> None:
        await asyncio.sleep(0)
        log.info("from a task")

    with audit_context("B2"):
        async with asyncio.TaskGroup() as group:
            group.create_task(work())
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["audit_id"] == "B2"
    assert outside["audit_id"] is None


def test_exceptions_are_kept_in_the_object(stream: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("server.test").exception("failed")
    (entry,) = lines(stream)
    assert "ValueError: boom" in str(entry["exception"])


def test_text_format_names_the_audit() -> None:
    out = io.StringIO()
    handler = configure_logging("text", "INFO", out)
    try:
        logging.getLogger("server.test").info("hello", extra={"audit_id": "C3"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert "[C3]" in out.getvalue()
    assert "hello" in out.getvalue()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        configure_logging("xml")


async def test_the_server_writes_json_lines_naming_the_audit(tmp_path: Path) -> None:
    command = worker_command("garbage")  # the fallback is logged from inside the audit's task
    async with (
        running_server(
            tmp_path, VERITAS_WORKER_COMMAND=command, VERITAS_LOG_FORMAT="json"
        ) as server,
        aiohttp.ClientSession() as session,
    ):
        audit_id = await post_audit(session, server.base)
        await read_events(session, server.base, audit_id)
        assert await server.stop(signal.SIGTERM) == 0
    entries = [json.loads(line) for line in server.stderr_lines()]
    assert entries, "the server logged nothing"
    assert all({"ts", "level", "logger", "message", "audit_id"} <= set(e) for e in entries)
    about = [e for e in entries if e["audit_id"] == audit_id]
    assert any("fall" in e["message"] and e["level"] == "warning" for e in about), about
