"""One audit on a server, followed to its end: start it (or `--watch` it), stream, resume, report.

The stream is read with `Last-Event-ID` set to the last position seen, so a dropped
connection resumes where it stopped: no event shown twice, none missed. Only a run of
failed attempts in a row (`ClientLimits.reconnects`) gives up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from protocol import exits
from protocol.errors import ProtocolError
from protocol.events import Event
from protocol.jsonlines import from_json_map
from veritas.client.errors import ClientFailure, ServerRefused
from veritas.client.options import ClientConfig
from veritas.client.sse import Message, SseDecoder
from veritas.progress import Progress
from veritas.report.output import below, deliver

log: Final = logging.getLogger("veritas.client")
DEFAULT_DELAY: Final = 1.0
# A refusal for these is a mistake on the command line (bad URL, bad token): status 2.
USAGE_STATUSES: Final = frozenset({400, 401})


@dataclass(slots=True)
class Outcome:
    result: dict[str, Any] | None = None
    error: str | None = None
    done: bool = False


async def run_client(config: ClientConfig, stdout_fd: int) -> int:
    progress = Progress(sys.stderr, config.verbose)
    try:
        outcome = await _audit(config, progress)
    except ServerRefused as exc:
        _say(f"error: {exc}")
        return exits.USAGE if exc.status in USAGE_STATUSES else exits.NO_RESULT
    except ClientFailure as exc:
        _say(f"error: {exc}")
        return exits.NO_RESULT
    finally:
        progress.close()
    if outcome.result is None:
        _say(f"error: the audit ended without a result: {outcome.error or 'no reason given'}")
        return exits.NO_RESULT
    deliver(
        outcome.result,
        output=config.output,
        report_format=config.run.report_format,
        json_fd=stdout_fd if config.json else None,
    )
    return exits.BELOW_THRESHOLD if below(outcome.result, config.run.fail_under) else exits.OK


def _say(line: str) -> None:
    print(f"veritas: {line}", file=sys.stderr, flush=True)


async def _audit(config: ClientConfig, progress: Progress) -> Outcome:
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=config.limits.connect_timeout,
        sock_read=config.limits.read_timeout,
    )
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            api = Api(http, config)
            audit_id = config.watch or await api.start()
            _say(f"audit {audit_id} on {config.server} (--watch {audit_id} follows it again)")
            return await follow(api, audit_id, progress)
    except aiohttp.ClientConnectionError as exc:
        raise ClientFailure(f"cannot reach {config.server}: {exc}") from exc


class Api:
    """The few requests the client makes; errors become `ServerRefused` with the server's words."""

    def __init__(self, http: aiohttp.ClientSession, config: ClientConfig) -> None:
        self.http = http
        self.config = config
        self.retry_ms: int | None = None

    async def start(self) -> str:
        body: dict[str, Any] = {
            "url": self.config.url,
            "tier": self.config.tier,
            "verdict_mode": self.config.verdict_mode,
        }
        if self.config.security_modules is not None:
            body["security_modules"] = list(self.config.security_modules)
        async with self.http.post(f"{self.config.server}/audits", json=body) as response:
            await self._check(response)
            answer = await self._json(response)
        audit_id = answer.get("id")
        if not isinstance(audit_id, str):
            raise ClientFailure("the server's answer to POST /audits has no audit id")
        return audit_id

    async def stream(self, audit_id: str, after: int, handle: Callable[[Message], bool]) -> bool:
        """Hand each message after position `after` to `handle` until it returns True or the
        stream ends; True when the server says nothing is left to send (204)."""
        headers = {"Accept": "text/event-stream"}
        if after:
            headers["Last-Event-ID"] = str(after)
        url = f"{self.config.server}/audits/{audit_id}/events"
        async with self.http.get(url, headers=headers) as response:
            if response.status == 204:
                return True
            await self._check(response)
            decoder = SseDecoder(self.config.limits.max_line_bytes)
            try:
                async for chunk in response.content.iter_any():
                    if any(handle(message) for message in decoder.feed(chunk)):
                        break
            finally:
                self.retry_ms = decoder.retry_ms or self.retry_ms
        return False

    async def _check(self, response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        try:
            error = (await self._json(response)).get("error") or {}
        except ClientFailure:
            error = {}
        raise ServerRefused(
            response.status,
            str(error.get("code", "http_error")),
            str(error.get("message", response.reason or "")),
        )

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        raw = await response.content.read(self.config.limits.max_body_bytes + 1)
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise ClientFailure(f"the server's answer is not JSON ({exc})") from exc
        if len(raw) > self.config.limits.max_body_bytes or not isinstance(obj, dict):
            raise ClientFailure("the server's answer is not a JSON object of a sane size")
        return obj


async def follow(api: Api, audit_id: str, show: Callable[[Event], None]) -> Outcome:
    """Show every event of the audit once, reconnecting after the last one seen."""
    outcome, cursor, failures = Outcome(), 0, 0

    def handle(message: Message) -> bool:
        nonlocal cursor, failures
        event = _decode(message)
        cursor, failures = int(message.id or cursor), 0
        show(event)
        _record(outcome, event)
        return outcome.done

    while not outcome.done:
        try:
            if await api.stream(audit_id, cursor, handle):
                outcome.done = True
            reason = "the server closed the stream"
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
        except aiohttp.ClientConnectionError as exc:
            reason = f"cannot reach {api.config.server}: {exc}"
        if outcome.done:
            break
        failures += 1
        if failures > api.config.limits.reconnects:
            raise ClientFailure(f"lost the event stream {failures} times in a row: {reason}")
        log.info("stream lost (%s); resuming after event %d", reason, cursor)
        await asyncio.sleep(_delay(api))
    return outcome


def _delay(api: Api) -> float:
    seconds = api.retry_ms / 1000 if api.retry_ms is not None else DEFAULT_DELAY
    return min(seconds, api.config.limits.max_delay)


def _decode(message: Message) -> Event:
    try:
        return from_json_map(json.loads(message.data))
    except (ValueError, ProtocolError) as exc:
        raise ClientFailure(f"the server sent an event that is not valid: {exc}") from exc


def _record(outcome: Outcome, event: Event) -> None:
    if event.type == "audit_result":
        outcome.result = dict(event["result"])
    elif event.type == "audit_error":
        outcome.error = str(event["error"])
    if event.terminal:
        outcome.done = True
