"""Deep audit benchmark: the auditor and its browser on local sites; what screenshots cost.

    python -m bench.deep [--quick | --smoke] [--repeats N]

1. Audits: `python -m veritas URL --tier deep_forensic --ipc pipe` on two 3-page local sites
   (bench/deepsite.py): `plain`, next to nothing to draw, and `shop`, a shop's page with a
   stylesheet, pictures, twelve product cards and a third-party frame. Each page puts a
   countdown, notifications or a consent banner on screen by script. Measured per audit:
   wall time (spawn to exit), the render phase's time per page, the peak memory of the
   auditor with everything it started (PSS summed over the whole process tree: Python,
   Playwright's Node.js driver, Chromium and its helpers, sampled every 0.1 s), the
   screenshots and their bytes; and, at the highest peak, where the memory is, process by
   process.
2. Screenshot transport (bench/shotpipe.py): the audits' own JPEGs sent as `screenshot`
   events by the auditor's emitter and channel, one write per screenshot, read by the
   server's intake, through the ipc pipe (msgpack frames, the pipe grown as the server grows
   it) or the stdout fallback (JSON lines, base64). MB/s of image bytes, end to end, and
   the CPU each side spends per screenshot; for each site's images and for 200 KiB ones.

Goals (issue 13): a 3-page deep audit <= 25 s and <= 600 MiB; pipe >= 5x stdout MB/s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench import cli, deepsite, pss, shotpipe
from bench.stats import Table, fmt, goal, median
from protocol.events import Event
from protocol.framing import FrameDecoder

MIB: Final = 1024 * 1024
AUDIT_LIMIT: Final = 120.0
SAMPLE_EVERY: Final = 0.1
GOAL_SECONDS: Final = 25.0
GOAL_MIB: Final = 600.0
GOAL_RATIO: Final = 5.0
# Near the per-screenshot limit (256 KiB): a busy page's viewport at full quality.
LARGE_IMAGE: Final = 200 * 1024


@dataclass(frozen=True, slots=True)
class Sizes:
    audits: int  # per site
    transport_mib: int  # image MiB per pipe run (stdout runs carry a quarter: 4-10x slower)
    repeats: int


SIZES: Final = {
    "smoke": Sizes(1, 4, 1),
    "quick": Sizes(2, 48, 3),
    "full": Sizes(3, 128, 5),
}


@dataclass(frozen=True, slots=True)
class AuditRun:
    site: str
    seconds: float
    render_seconds: float
    pages: int
    peak_mib: float
    peak_procs: list[pss.Proc]
    others: int  # Chromium processes outside the tree at the peak
    shots: list[bytes]
    phase_error: str | None


# -- audits --------------------------------------------------------------------------------


def audit(port: int, site: str) -> AuditRun:
    read_fd, write_fd = os.pipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    env |= {"VERITAS_ALLOW_PRIVATE_TARGETS": "1", "VERITAS_BROWSER_PAGES": "3"}
    url = f"http://127.0.0.1:{port}/{site}/timer"
    args = [url, "--tier", "deep_forensic", "--ipc", "pipe", "--ipc-fd", str(write_fd)]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "veritas", *args],
        pass_fds=[write_fd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    os.close(write_fd)
    events: list[Event] = []
    reader = threading.Thread(target=_read_frames, args=(read_fd, events), daemon=True)
    reader.start()
    peak: list[pss.Proc] = []
    while proc.poll() is None and time.monotonic() - started < AUDIT_LIMIT:
        sample = pss.tree(proc.pid)
        if sum(p.pss for p in sample) > sum(p.pss for p in peak):
            peak = sample
        time.sleep(SAMPLE_EVERY)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    seconds = time.monotonic() - started
    reader.join(10)
    return _audit_run(site, events, seconds, peak)


def _read_frames(fd: int, events: list[Event]) -> None:
    decoder = FrameDecoder()
    with open(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(1 << 16):
            decoder.feed(chunk)
            events.extend(decoder)


def _audit_run(site: str, events: list[Event], seconds: float, peak: list[pss.Proc]) -> AuditRun:
    render = [e for e in events if e.get("label") == "Rendered pages"]
    begin = next((e.ts for e in render if e.type == "phase_start"), 0.0)
    end = next((e for e in render if e.type != "phase_start"), None)
    summary = end.get("summary", {}) if end is not None and end.type == "phase_complete" else {}
    return AuditRun(
        site=site,
        seconds=seconds,
        render_seconds=(end.ts - begin) if end is not None else float("nan"),
        pages=len(summary.get("pages", [])),
        peak_mib=sum(p.pss for p in peak) / MIB,
        peak_procs=peak,
        others=pss.outside_sharers(peak),
        shots=[e["data"] for e in events if e.type == "screenshot"],
        phase_error=str(end.get("error"))
        if end is not None and end.type == "phase_error"
        else None,
    )


def audits_table(runs: Sequence[AuditRun], size_name: str) -> str:
    table = Table(
        f"Deep audits of 3-page local sites ({size_name}, {len(runs)} audits)",
        ("site", "wall s", "render s", "pages", "s/page", "peak MiB", "shots", "viewport KiB"),
    )
    for r in runs:
        per_page = r.render_seconds / r.pages if r.pages else float("nan")
        viewports = [len(s) / 1024 for s in r.shots if len(s) > 0][: r.pages]
        table.add(r.site, fmt(r.seconds, 1), fmt(r.render_seconds, 1), str(r.pages),
                  fmt(per_page, 1), fmt(r.peak_mib), str(len(r.shots)),
                  fmt(median(viewports), 1))  # fmt: skip
        if r.phase_error:
            table.note(f"{r.site}: render phase error: {r.phase_error}")
    wall, peak = median([r.seconds for r in runs]), max(r.peak_mib for r in runs)
    table.note(f"goal 3-page deep audit <= {GOAL_SECONDS:g} s: median {fmt(wall, 1)} s, "
               f"{goal(wall <= GOAL_SECONDS)}")  # fmt: skip
    table.note(f"goal <= {GOAL_MIB:g} MiB: highest peak {fmt(peak)} MiB, {goal(peak <= GOAL_MIB)}")
    table.note("viewport KiB: median JPEG of the pages' viewports (quality 70, 1280x800)")
    return table.render()


def breakdown_table(runs: Sequence[AuditRun]) -> str:
    worst = max(runs, key=lambda r: r.peak_mib)
    table = Table(
        f"Where the memory is at the highest peak ({worst.site}, {fmt(worst.peak_mib)} MiB PSS)",
        ("process", "count", "MiB"),
    )
    for kind, count, size in pss.by_kind(worst.peak_procs):
        table.add(kind, str(count), fmt(size / MIB, 1))
    if worst.others:
        table.note(f"{worst.others} other Chromium processes ran on the machine at the peak: "
                   "pages shared with them count partly to them, so this peak is lower than "
                   "the same tree's alone")  # fmt: skip
    return table.render()


# -- screenshot transport ------------------------------------------------------------------


@dataclass(slots=True)
class Rates:
    mbps: dict[str, list[float]] = field(default_factory=lambda: {"pipe": [], "stdout": []})
    writer_us: dict[str, list[float]] = field(default_factory=lambda: {"pipe": [], "stdout": []})
    reader_us: dict[str, list[float]] = field(default_factory=lambda: {"pipe": [], "stdout": []})


async def _rates(images: Sequence[bytes], sizes: Sizes) -> Rates:
    """Interleaved runs (pipe, stdout, pipe, ...): the machine's load falls on both alike."""
    average = sum(map(len, images)) / len(images)
    count = max(20, int(sizes.transport_mib * MIB / average))
    rates = Rates()
    with tempfile.TemporaryDirectory(prefix="veritas-bench-shots-") as folder:
        path = Path(folder) / "shots.bin"
        shotpipe.save_images(images, path)
        for _ in range(sizes.repeats):
            for mode, n in (("pipe", count), ("stdout", max(10, count // 4))):
                run = await shotpipe.measure(mode, path, n)
                rates.mbps[mode].append(run.mbps)
                rates.writer_us[mode].append(run.writer_cpu / n * 1e6)
                rates.reader_us[mode].append(run.reader_cpu / n * 1e6)
    return rates


def transport_table(images_by_name: dict[str, list[bytes]], sizes: Sizes) -> str:
    table = Table(
        "Screenshot events, auditor channel -> server intake, end to end",
        ("images", "channel", "KiB each", "MB/s median", "auditor CPU us", "server CPU us",
         "runs"),
    )  # fmt: skip
    for name, images in images_by_name.items():
        rates = asyncio.run(_rates(images, sizes))
        kib = sum(map(len, images)) / len(images) / 1024
        for mode in ("pipe", "stdout"):
            table.add(name, mode, fmt(kib, 1), fmt(median(rates.mbps[mode]), 1),
                      fmt(median(rates.writer_us[mode])), fmt(median(rates.reader_us[mode])),
                      str(len(rates.mbps[mode])))  # fmt: skip
        ratio = median(rates.mbps["pipe"]) / median(rates.mbps["stdout"])
        table.note(f"{name}: pipe/stdout {fmt(ratio, 1)}x; goal >= {GOAL_RATIO:g}x "
                   f"{goal(ratio >= GOAL_RATIO)}")  # fmt: skip
    table.note("CPU us: per screenshot, in the auditor (emit, encode, write) and in the "
               "server (read, decode, validate, order)")  # fmt: skip
    return table.render()


# -- the report ----------------------------------------------------------------------------


def run(sizes: Sizes, size_name: str) -> str:
    runs: list[AuditRun] = []
    with deepsite.serve() as port:
        for _ in range(sizes.audits):
            for site in deepsite.SITES:
                runs.append(audit(port, site))
    images: dict[str, list[bytes]] = {}
    for site in deepsite.SITES:
        shots = [s for r in runs if r.site == site for s in r.shots]
        images[f"{site} site's"] = shots or [b"\xff\xd8\xff\xd9"]
    images["200 KiB"] = [os.urandom(LARGE_IMAGE)]  # JPEG bytes look random; codecs do not care
    return audits_table(runs, size_name) + breakdown_table(runs) + transport_table(images, sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.deep", __doc__)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    size_name, sizes = cli.chosen_sizes(args, SIZES)
    print(run(sizes, size_name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
