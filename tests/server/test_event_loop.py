"""`--loop`: the standard loop by default, uvloop on request (when it is installed)."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

import aiohttp
import pytest

from server.config import from_command_line
from server.errors import ConfigError
from tests.protocol.sse_parser import parse
from tests.server.server_process import post_audit, read_events, running_server, worker_command


def test_the_standard_loop_is_the_default_and_uvloop_is_chosen_by_flag_or_variable() -> None:
    assert from_command_line([], {}).event_loop == "asyncio"
    assert from_command_line(["--loop", "uvloop"], {}).event_loop == "uvloop"
    assert from_command_line([], {"VERITAS_LOOP": "uvloop"}).event_loop == "uvloop"


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(ConfigError, match="VERITAS_LOOP"):
        from_command_line([], {"VERITAS_LOOP": "trio"})


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
async def test_an_audit_streams_to_its_end_on_uvloop(tmp_path: Path) -> None:
    async with (
        running_server(
            tmp_path, VERITAS_LOOP="uvloop", VERITAS_WORKER_COMMAND=worker_command("normal")
        ) as server,
        aiohttp.ClientSession() as session,
    ):
        audit_id = await post_audit(session, server.base)
        stream = parse(await read_events(session, server.base, audit_id))
        assert await server.stop(signal.SIGTERM) == 0
    assert stream.messages[-1].type == "audit_complete"
    assert [int(m.last_event_id) for m in stream.messages] == list(
        range(1, len(stream.messages) + 1)
    )
