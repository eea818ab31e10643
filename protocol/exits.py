"""The auditor's exit statuses: part of the contract, since the server turns them into outcomes."""

from __future__ import annotations

from typing import Final

OK: Final = 0  # the audit produced a result, however damning
# 1 is left to Python itself, which exits 1 on an uncaught exception: that is a crash.
USAGE: Final = 2  # bad arguments or environment; one line on stderr says which
CHANNEL_LOST: Final = 3  # a result was produced but no event channel was left to carry it
NO_RESULT: Final = 4  # the audit ran but could not conclude; a phase_error event says why
BELOW_THRESHOLD: Final = 5  # a result was produced, its trust score is below --fail-under
INTERRUPTED: Final = 130  # SIGINT
TERMINATED: Final = 143  # SIGTERM
