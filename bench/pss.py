"""Where a process tree's memory goes: PSS per process, named by what the process is.

    procs = tree(pid)             # one sample: every process below pid, with its PSS
    for kind, count, size in by_kind(procs): ...

PSS (proportional set size) splits each shared page between the processes that map it, so
the sum over a tree counts Chromium's code once, not once per helper. A page shared with
a process outside the tree (another Chromium on the machine) is split with it too:
`outside_sharers` counts those, since they make the tree's PSS look smaller than it is
when the tree runs alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from veritas.browser.launch import descendants, pss_bytes

CHROMIUM_TYPE: Final = re.compile(rb"--type=([a-z-]+)")
UTILITY_TYPE: Final = re.compile(rb"--utility-sub-type=([a-zA-Z.]+)")


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    kind: str
    pss: int  # bytes


def tree(root: int) -> list[Proc]:
    """`root` and every process below it that is still there, with its PSS now."""
    sizes = ((pid, pss_bytes(pid)) for pid in descendants(root))
    return [Proc(pid, kind(pid), size) for pid, size in sizes if size > 0]


def kind(pid: int) -> str:
    """'auditor (python)', 'driver (node)', 'chromium renderer', 'chromium utility: network'..."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        command = b""
    if not command:  # a process on its way out has no command line left
        return "exiting"
    program = os.path.basename(command.split(b"\0", 1)[0].split(b" ", 1)[0]).decode(
        errors="replace"
    )
    if program.startswith("python"):
        return "auditor (python)"
    if program == "node":
        return "driver (node)"
    if "chrom" not in program:
        return program
    found = CHROMIUM_TYPE.search(command)
    if found is None:
        return "chromium browser"
    name = found.group(1).decode()
    utility = UTILITY_TYPE.search(command)
    if utility is not None:
        service = utility.group(1).decode().split(".")[0]
        return f"chromium {name}: {service}"
    return f"chromium {name}"


def by_kind(procs: Iterable[Proc]) -> list[tuple[str, int, int]]:
    """(kind, processes, PSS bytes), largest first."""
    totals: dict[str, list[int]] = {}
    for proc in procs:
        entry = totals.setdefault(proc.kind, [0, 0])
        entry[0] += 1
        entry[1] += proc.pss
    return sorted(((k, n, b) for k, (n, b) in totals.items()), key=lambda row: -row[2])


def outside_sharers(procs: Iterable[Proc], binary: bytes = b"chromium") -> int:
    """Processes outside the tree running a program named `binary` (they share its pages)."""
    inside = {proc.pid for proc in procs}
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) not in inside:
            try:
                program = Path(entry.path, "cmdline").read_bytes().split(b"\0", 1)[0]
            except OSError:
                continue
            count += binary in os.path.basename(program.split(b" ", 1)[0])
    return count
