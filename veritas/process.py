"""One audit process: the channel, hello, the orchestrator, signals, and the printed result."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any, Final

from protocol import exits
from veritas.channel import Channel
from veritas.config import Config
from veritas.emitter import Emitter, Listener
from veritas.progress import Progress
from veritas.report.output import below, deliver

EXIT_OK: Final = exits.OK
EXIT_NO_RESULT: Final = exits.NO_RESULT
EXIT_CHANNEL_LOST: Final = exits.CHANNEL_LOST
SIGNAL_EXITS: Final = {signal.SIGINT: exits.INTERRUPTED, signal.SIGTERM: exits.TERMINATED}
# After a signal, pending events get at most this long to leave before the process exits.
SIGNAL_GRACE: Final = 1.0

log = logging.getLogger("veritas")


async def run(config: Config, stdout_fd: int) -> int:
    """Run one audit to its exit status; SIGTERM/SIGINT stop it and flush what is pending."""
    channel = Channel(config.ipc, config.ipc_fd, stdout_fd, config.limits, log.warning)
    progress = Progress(sys.stderr, config.verbose) if config.ipc is None else None
    listeners: list[Listener] = [progress] if progress is not None else []
    emitter = Emitter(channel, listeners)
    emitter.emit(
        "hello",
        pid=os.getpid(),
        # Run by hand nothing is written; the field still needs one of the protocol's modes.
        ipc=channel.active_mode or "stdout",
        tier=config.tier,
        url=config.url,
    )
    # `hello` leaves before the analysers and the HTTP client are imported (a few hundred
    # milliseconds), so a watcher sees the audit start as soon as the process does.
    await asyncio.sleep(0)
    from veritas.orchestrator import Orchestrator

    audit = asyncio.create_task(Orchestrator(config, emitter).run())
    caught: list[signal.Signals] = []
    _on_signals(audit, caught)
    try:
        result = await audit
    except asyncio.CancelledError:
        if not caught or _being_cancelled():
            raise
        emitter.log("orchestrator", "warning", f"stopped by {caught[0].name}")
        await channel.aclose(min(SIGNAL_GRACE, config.limits.channel_close_timeout))
        return SIGNAL_EXITS[caught[0]]
    finally:
        _off_signals()
        if progress is not None:
            progress.close()
    delivered = await channel.aclose(config.limits.channel_close_timeout)
    if result is None:
        return EXIT_NO_RESULT
    _print_result(config, result, stdout_fd)
    if not delivered:
        log.error("the result could not be delivered on any event channel")
        return EXIT_CHANNEL_LOST
    return exits.BELOW_THRESHOLD if below(result, config.run.fail_under) else EXIT_OK


def _on_signals(audit: asyncio.Task[Any], caught: list[signal.Signals]) -> None:
    loop = asyncio.get_running_loop()
    for signum in SIGNAL_EXITS:

        def stop(signum: signal.Signals = signum) -> None:
            caught.append(signum)
            audit.cancel()

        loop.add_signal_handler(signum, stop)


def _off_signals() -> None:
    loop = asyncio.get_running_loop()
    for signum in SIGNAL_EXITS:
        loop.remove_signal_handler(signum)


def _being_cancelled() -> bool:
    """True when the cancellation is aimed at us, not only at the audit we cancelled."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _print_result(config: Config, result: dict[str, Any], stdout_fd: int) -> None:
    deliver(
        result,
        output=config.output,
        report_format=config.run.report_format,
        json_fd=stdout_fd if config.json else None,
    )
