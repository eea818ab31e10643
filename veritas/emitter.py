"""The emitter: numbers events 1, 2, 3 ..., validates them, and hands each to the channel once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from protocol.events import Event, new_event
from veritas.channel import Channel
from veritas.finding import Finding

Listener = Callable[[Event], None]


class Emitter:
    def __init__(self, channel: Channel, listeners: Sequence[Listener] = ()) -> None:
        self.channel = channel
        self.listeners = tuple(listeners)
        self.seq = 0
        self.started = time.monotonic()

    def emit(self, type_: str, /, **fields: Any) -> Event:
        """Validate and send one event now; `seq` is the next number in emission order."""
        event = new_event(type_, self.seq + 1, **fields)
        self.seq = event.seq
        self.channel.send(event)
        for listener in self.listeners:
            listener(event)
        return event

    async def drain(self) -> None:
        """Let a slow reader catch up before producing more (backpressure)."""
        await self.channel.drain()

    def log(self, agent: str, level: str, message: str) -> Event:
        return self.emit("log_entry", agent=agent, level=level, message=message)

    def finding(self, finding: Finding) -> Event:
        return self.emit("finding", finding=finding.to_dict())
