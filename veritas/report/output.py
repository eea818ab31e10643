"""Where a finished audit's result goes: `--json` on stdout, `-o FILE` as JSON or HTML.

The file is checked before the audit starts (`check_writable`), so a typo in a path costs
one line and exit status 2, not a whole audit.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from protocol.report import render_html
from veritas.errors import UsageError

REPORT_FORMATS: Final = ("json", "html")


def check_writable(path: Path) -> None:
    """Raise `UsageError` unless `path` can be written; leaves no file behind that was not there."""
    existed = path.exists()
    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory")
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot be written ({exc.strerror or exc})") from None
    if not existed:
        path.unlink(missing_ok=True)


def render(result: Mapping[str, Any], report_format: str) -> bytes:
    """The result in one of `REPORT_FORMATS`, as the bytes of a file."""
    if report_format == "html":
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return render_html(result, generated=f"Made by Veritas on {stamp}.").encode("utf-8")
    return json.dumps(result, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def deliver(
    result: Mapping[str, Any],
    *,
    output: Path | None,
    report_format: str,
    json_fd: int | None,
) -> None:
    """Write the report file, then the JSON on the descriptor (stdout) when asked for."""
    if output is not None:
        output.write_bytes(render(result, report_format))
    if json_fd is not None:
        write_all(json_fd, render(result, "json"))


def write_all(fd: int, data: bytes) -> None:
    """A blocking write of every byte: the channel is closed, the result comes last."""
    os.set_blocking(fd, True)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def below(result: Mapping[str, Any], fail_under: int | None) -> bool:
    """True when a threshold is set and the trust score falls under it."""
    if fail_under is None:
        return False
    score = result.get("trust_score")
    return not isinstance(score, int) or score < fail_under
