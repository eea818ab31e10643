"""Deep audit benchmark: the auditor and its browser on a local site; what screenshots cost.

    python -m bench.deep [--quick | --smoke] [--repeats N]

1. Audits: `python -m veritas URL --tier deep_forensic --ipc pipe` on a 3-page local site
   whose pages put a countdown, notifications and a consent banner on screen by script.
   Measured per audit: wall time (spawn to exit), the render phase's time per page, the
   peak memory of the auditor with everything it started (PSS of the whole process tree:
   Python, Playwright's driver, Chromium), screenshots and their bytes.
2. Screenshot transport: a child process writes the audits' own JPEGs as `screenshot`
   events to an OS pipe, as msgpack frames (the ipc pipe) or as JSON lines with base64 (the
   stdout fallback); this process reads and decodes them. MB/s of image bytes, each way.

Goals (issue 13): a 3-page deep audit <= 25 s and <= 600 MiB; pipe >= 5x stdout MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from bench import cli
from bench.stats import Table, fmt, goal, median
from protocol.events import Event, new_event
from protocol.framing import FrameDecoder, encode_frame
from protocol.jsonlines import LineDecoder, encode_line

MIB: Final = 1024 * 1024
AUDIT_LIMIT: Final = 120.0
GOAL_SECONDS: Final = 25.0
GOAL_MIB: Final = 600.0
GOAL_RATIO: Final = 5.0


@dataclass(frozen=True, slots=True)
class Sizes:
    audits: int
    shots: int  # screenshot events per transport run
    repeats: int


SIZES: Final = {
    "smoke": Sizes(1, 200, 1),
    "quick": Sizes(2, 2000, 3),
    "full": Sizes(3, 5000, 5),
}

PAGE: Final = """<!doctype html><html><head><title>Bench Shop</title>
<script src="/static/{name}.js"></script></head><body><h1>Bench Shop</h1>
<p>Stoneware, glazed by hand.</p><div id="spot"></div>
<a href="/timer">offers</a> <a href="/toast">news</a> <a href="/consent">about</a>
</body></html>"""
SCRIPTS: Final = {
    "timer": """window.addEventListener("load", () => { let left = 899;
  const two = (n) => String(n).padStart(2, "0");
  const show = () => { document.getElementById("spot").textContent =
    `Ends in ${two(Math.floor(left / 60))}:${two(left % 60)}`; };
  show(); setInterval(() => { left -= 1; show(); }, 1000); });""",
    "toast": """window.addEventListener("load", () => setTimeout(() => {
  const d = document.createElement("div"); d.textContent = "Emma from Leeds just bought a bowl";
  document.body.append(d); }, 200));""",
    "consent": """window.addEventListener("load", () => { const b = document.createElement("div");
  b.style.cssText = "position:fixed;bottom:0;left:0;right:0;background:#fff;padding:16px";
  b.innerHTML = '<p>We use cookies.</p><button style="font-size:20px">Accept all</button>';
  document.body.append(b); });""",
}


@dataclass(frozen=True, slots=True)
class AuditRun:
    seconds: float
    render_seconds: float
    pages: int
    peak_mib: float
    shots: list[bytes]
    phase_error: str | None


# -- the site ------------------------------------------------------------------------------


@contextmanager
def serve() -> Iterator[int]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=PAGE.format(name=request.match_info["name"]), content_type="text/html"
        )

    async def script(request: web.Request) -> web.Response:
        return web.Response(
            text=SCRIPTS[request.match_info["name"]], content_type="text/javascript"
        )

    app = web.Application()
    app.router.add_get("/static/{name}.js", script)
    app.router.add_get("/{name:[a-z]+}", page)
    ready, box = threading.Event(), []

    async def run() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stop = asyncio.Event()
        box.extend([runner.addresses[0][1], stop, asyncio.get_running_loop()])
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box[0]
    finally:
        box[2].call_soon_threadsafe(box[1].set)
        thread.join(10)


# -- audits --------------------------------------------------------------------------------


def tree_pss(root: int) -> int:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def audit(port: int) -> AuditRun:
    read_fd, write_fd = os.pipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITAS_")}
    env |= {"VERITAS_ALLOW_PRIVATE_TARGETS": "1", "VERITAS_BROWSER_PAGES": "3"}
    url = f"http://127.0.0.1:{port}/timer"
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
    peak = 0
    while proc.poll() is None and time.monotonic() - started < AUDIT_LIMIT:
        peak = max(peak, tree_pss(proc.pid))
        time.sleep(0.25)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    seconds = time.monotonic() - started
    reader.join(10)
    return _audit_run(events, seconds, peak)


def _read_frames(fd: int, events: list[Event]) -> None:
    decoder = FrameDecoder()
    with open(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(1 << 16):
            decoder.feed(chunk)
            events.extend(decoder)


def _audit_run(events: list[Event], seconds: float, peak: int) -> AuditRun:
    render = [e for e in events if e.get("label") == "Rendered pages"]
    begin = next((e.ts for e in render if e.type == "phase_start"), 0.0)
    end = next((e for e in render if e.type != "phase_start"), None)
    summary = end.get("summary", {}) if end is not None and end.type == "phase_complete" else {}
    return AuditRun(
        seconds=seconds,
        render_seconds=(end.ts - begin) if end is not None else float("nan"),
        pages=len(summary.get("pages", [])),
        peak_mib=peak / MIB,
        shots=[e["data"] for e in events if e.type == "screenshot"],
        phase_error=str(end.get("error"))
        if end is not None and end.type == "phase_error"
        else None,
    )


# -- screenshot transport ------------------------------------------------------------------


def writer_main(mode: str, count: int, path: str) -> None:
    """The child: `count` screenshot events with the JPEGs in `path`, to stdout."""
    images = _split(Path(path).read_bytes())
    out = os.fdopen(1, "wb", buffering=0)
    encode = encode_frame if mode == "pipe" else encode_line
    for index in range(count):
        data = images[index % len(images)]
        event = new_event("screenshot", index + 1, index=index + 1, label="page", url="http://x/",
                          mime="image/jpeg", data=data)  # fmt: skip
        out.write(encode(event))


def _split(blob: bytes) -> list[bytes]:
    parts, offset = [], 0
    while offset < len(blob):
        size = int.from_bytes(blob[offset : offset + 4], "big")
        parts.append(blob[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return parts


def transport(mode: str, count: int, images: Path) -> tuple[float, int]:
    """(MB/s of image bytes, image bytes) through an OS pipe, encoded and decoded."""
    cmd = [sys.executable, "-m", "bench.deep", "--writer", mode, "--count", str(count),
           "--images", str(images)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    decoder: FrameDecoder | LineDecoder = FrameDecoder() if mode == "pipe" else LineDecoder()
    payload, started = 0, None
    while chunk := os.read(proc.stdout.fileno(), 1 << 16):
        started = started or time.monotonic()  # from the first byte: not the child's start-up
        decoder.feed(chunk)
        payload += sum(len(e["data"]) for e in decoder if isinstance(e, Event))
    proc.wait()
    return payload / MIB / (time.monotonic() - (started or 0.0)), payload


# -- the report ----------------------------------------------------------------------------


def run(sizes: Sizes, size_name: str) -> str:
    runs: list[AuditRun] = []
    with serve() as port:
        for _ in range(sizes.audits):
            runs.append(audit(port))
    shots = [s for r in runs for s in r.shots] or [b"\xff\xd8\xff\xd9"]
    table = Table(
        f"Deep audits of a 3-page local site ({size_name}, {len(runs)} audits)",
        ("audit", "wall s", "render s", "pages", "s/page", "peak MiB", "shots", "shot KiB"),
    )
    for number, r in enumerate(runs, 1):
        per_page = r.render_seconds / r.pages if r.pages else float("nan")
        table.add(str(number), fmt(r.seconds, 1), fmt(r.render_seconds, 1), str(r.pages),
                  fmt(per_page, 1), fmt(r.peak_mib), str(len(r.shots)),
                  fmt(sum(map(len, r.shots)) / 1024, 1))  # fmt: skip
        if r.phase_error:
            table.note(f"audit {number}: render phase error: {r.phase_error}")
    wall, peak = median([r.seconds for r in runs]), max(r.peak_mib for r in runs)
    table.note(f"goal 3-page deep audit <= {GOAL_SECONDS:g} s: median {fmt(wall, 1)} s, "
               f"{goal(wall <= GOAL_SECONDS)}")  # fmt: skip
    table.note(f"goal <= {GOAL_MIB:g} MiB: peak {fmt(peak)} MiB, {goal(peak <= GOAL_MIB)}")
    return table.render() + _transport_table(shots, sizes)


# Near the per-screenshot limit (256 KiB): a busy page's viewport rather than a plain one.
LARGE_IMAGE: Final = 200 * 1024


def _transport_table(shots: Sequence[bytes], sizes: Sizes) -> str:
    table = Table(
        f"Screenshot events through an OS pipe, encoded and decoded ({sizes.shots} events)",
        ("images", "channel", "KiB each", "MB/s median", "runs"),
    )
    large = [os.urandom(LARGE_IMAGE)]  # JPEG bytes look random; the codecs do not care
    for name, images, count in (("the audits'", shots, sizes.shots),
                                ("200 KiB", large, max(20, sizes.shots // 10))):  # fmt: skip
        rates = _rates(images, count, sizes.repeats)
        kib = sum(map(len, images)) / len(images) / 1024
        for mode, values in rates.items():
            table.add(name, mode, fmt(kib, 1), fmt(median(values), 1), str(len(values)))
        ratio = median(rates["pipe"]) / median(rates["stdout"])
        table.note(
            f"{name} images: pipe/stdout {fmt(ratio, 1)}x; goal >= {GOAL_RATIO:g}x "
            f"{goal(ratio >= GOAL_RATIO)}"
        )
    return table.render()


def _rates(images: Sequence[bytes], count: int, repeats: int) -> dict[str, list[float]]:
    path = Path(tempfile.gettempdir()) / f"veritas-bench-shots-{os.getpid()}.bin"
    path.write_bytes(b"".join(len(s).to_bytes(4, "big") + s for s in images))
    try:
        return {
            m: [transport(m, count, path)[0] for _ in range(repeats)] for m in ("pipe", "stdout")
        }
    finally:
        path.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("python -m bench.deep", __doc__)
    # the transport's writer child
    parser.add_argument("--writer", choices=("pipe", "stdout"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--images", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.writer:
        writer_main(args.writer, args.count, args.images)
        return 0
    size_name, sizes = cli.chosen_sizes(args, SIZES)
    print(run(sizes, size_name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
