"""The command line every benchmark shares: its size (full, --quick, --smoke) and repeats."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Sizes = TypeVar("Sizes")


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser with the size flags; the benchmark adds its own arguments."""
    made = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n")[0])
    size = made.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the size `make bench` uses")
    size.add_argument("--smoke", action="store_true", help="smallest size, seconds")
    made.add_argument("--repeats", type=int, default=None, help="runs of each system")
    return made


def _size_name(args: argparse.Namespace) -> str:
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def chosen_sizes(args: argparse.Namespace, sizes: Mapping[str, Sizes]) -> tuple[str, Sizes]:
    """The size's name and its sizes for the flags given, with --repeats applied."""
    name = _size_name(args)
    chosen: Any = sizes[name]
    if args.repeats is not None:
        chosen = dataclasses.replace(chosen, repeats=args.repeats)
    return name, chosen
