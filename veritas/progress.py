"""The human progress display on stderr: a bar on a terminal, plain lines anywhere else."""

from __future__ import annotations

from typing import Final, TextIO

from protocol.events import Event
from protocol.report import verdict_lines

BAR_WIDTH: Final = 24
SHOWN_LEVELS: Final = frozenset({"info", "warning", "error"})


class Progress:
    """An event listener that tells a person at a terminal what the audit is doing."""

    def __init__(self, stream: TextIO, verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose
        self.tty = stream.isatty()
        self._pct = 0.0
        self._label = "starting"
        self._bar_shown = False

    def __call__(self, event: Event) -> None:
        line = self._describe(event)
        if "pct" in event.fields:
            self._pct = float(event["pct"])
            self._label = str(event["label"])
        if line is not None:
            self._print(line)
        if self.tty:
            self._draw_bar()

    def _describe(self, event: Event) -> str | None:
        kind = event.type
        if kind == "phase_start":
            return f"[{event['pct']:3.0f}%] {event['label']}: {event['message']}"
        if kind == "phase_complete":
            return f"[{event['pct']:3.0f}%] {event['label']} done: {event['message']}"
        if kind == "phase_error":
            return f"[{event['pct']:3.0f}%] {event['label']} failed: {event['error']}"
        if kind == "log_entry" and (self.verbose or event["level"] in SHOWN_LEVELS):
            return f"       {event['level']}: {event['message']}"
        if kind == "finding":
            finding = event["finding"]
            return f"       finding [{finding['severity']}] {finding['description']}"
        if kind == "site_type":
            return f"       site type: {event['site_type']} ({event['confidence']:.0%})"
        if kind == "audit_result":
            return "\n".join(verdict_lines(event["result"]))
        if kind == "audit_error":
            return f"the audit failed: {event['error']}"
        return None

    def _print(self, line: str) -> None:
        if self.tty and self._bar_shown:
            self.stream.write("\r\x1b[2K")  # clear the bar, print the line above it
        self.stream.write(line + "\n")
        self._bar_shown = False

    def _draw_bar(self) -> None:
        filled = round(BAR_WIDTH * self._pct / 100)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r\x1b[2K[{bar}] {self._pct:3.0f}% {self._label}")
        self.stream.flush()
        self._bar_shown = True

    def close(self) -> None:
        if self.tty and self._bar_shown:
            self.stream.write("\n")
            self._bar_shown = False
        self.stream.flush()
