"""The memory choices of the deep tier hold in a real browser: one renderer for a page and its
third-party frame, no browser-UI renderers, and the driver started with its V8 options.

A thread watches the processes below this one while a page renders; what it saw is
checked afterwards (counts and options, never times: the figures are in bench/deep.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.veritas.browser.conftest import DeepSite, Rendered
from veritas.browser.driver import DRIVER_NODE_OPTIONS, node_options
from veritas.browser.launch import descendants

pytestmark = pytest.mark.browser

RENDERER = re.compile(rb"--type=renderer\b")


@dataclass
class Watched:
    most_renderers: int = 0
    webui_renderers: int = 0
    driver_options: set[str] = field(default_factory=set)
    environ_before: str | None = None


def _look(seen: Watched) -> None:
    renderers = 0
    for pid in descendants(os.getpid())[1:]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if RENDERER.search(command):
                renderers += 1
                seen.webui_renderers += b"--top-chrome-webui" in command
            elif b"run-driver" in command.split(b"\0"):
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                for entry in environ:
                    if entry.startswith(b"NODE_OPTIONS="):
                        seen.driver_options.update(entry.decode().partition("=")[2].split())
        except (OSError, IndexError):
            continue
    seen.most_renderers = max(seen.most_renderers, renderers)


@pytest.fixture(scope="module")
def framed(deep_site: DeepSite) -> Iterator[tuple[Rendered, Watched, list[str]]]:
    seen, stop = Watched(), threading.Event()
    seen.environ_before = os.environ.get("NODE_OPTIONS")

    def watch() -> None:
        while not stop.wait(0.02):
            _look(seen)

    before = len(deep_site.state.hits)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        rendered = asyncio.run(deep_site.render("/framed"))
    finally:
        stop.set()
        watcher.join(5)
    yield rendered, seen, deep_site.state.hits[before:]


def test_a_page_and_its_third_party_frame_render_in_one_renderer_process(
    framed: tuple[Rendered, Watched, list[str]],
) -> None:
    _, seen, hits = framed
    assert "/clean?frame=1" in hits  # the other site's frame did load
    assert seen.most_renderers == 1
    assert seen.webui_renderers == 0


def test_the_driver_runs_with_its_v8_options_and_the_auditor_environment_is_restored(
    framed: tuple[Rendered, Watched, list[str]],
) -> None:
    _, seen, _ = framed
    assert set(DRIVER_NODE_OPTIONS) <= seen.driver_options
    assert os.environ.get("NODE_OPTIONS") == seen.environ_before


def test_node_options_come_before_the_operators_own_and_are_taken_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=512")
    with node_options(("--max-semi-space-size=1", "--max-old-space-size=256")):
        assert os.environ["NODE_OPTIONS"] == (
            "--max-semi-space-size=1 --max-old-space-size=256 --max-old-space-size=512"
        )
    assert os.environ["NODE_OPTIONS"] == "--max-old-space-size=512"
