"""The `python -m veritas.eval` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from veritas.analysis.darkpatterns import trained_pages
from veritas.eval import pages as page_eval
from veritas.eval import planted
from veritas.eval.corpus import Entry, load_manifest
from veritas.eval.folds import FOLDS, fold_detectors
from veritas.eval.phishing import phishing
from veritas.eval.segments import darkpatterns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m veritas.eval", description="Measure the analysers on labelled data."
    )
    commands = parser.add_subparsers(dest="task", required=True)
    commands.add_parser("darkpatterns", help="labelled texts (TSV)").add_argument("file", type=Path)
    commands.add_parser("phishing", help="labelled URLs (CSV)").add_argument("file", type=Path)
    pages = commands.add_parser("pages", help="saved real pages (manifest.jsonl)")
    pages.add_argument("file", type=Path)
    pages.add_argument(
        "--planted",
        type=Path,
        metavar="TSV",
        help="plant the positive texts of this labelled set into the shop pages",
    )
    pages.add_argument("--jobs", type=int, default=page_eval.default_processes())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for path in (args.file, getattr(args, "planted", None)):
        if path is not None and not path.is_file():
            parser.error(f"no such file: {path}")
    if args.task == "darkpatterns":
        lines = darkpatterns(args.file)
    elif args.task == "phishing":
        lines = phishing(args.file)
    elif args.planted is not None:
        lines = _planted(args.file, args.planted, args.jobs)
    else:
        lines = _pages(args.file, args.jobs)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _pages(manifest: Path, jobs: int) -> list[str]:
    entries = load_manifest(manifest)
    started = time.monotonic()
    outcomes = page_eval.run_all([(e,) for e in entries], page_eval.outcome, jobs)
    lines = [*_provenance(entries), *page_eval.report(outcomes)]
    lines.append(f"{len(outcomes)} pages in {time.monotonic() - started:.1f} s")
    lines.append(page_eval.Figures.of(outcomes).metrics())
    return lines


def _provenance(entries: Sequence[Entry]) -> list[str]:
    seen = trained_pages() & {e.sha256 for e in entries}
    if not seen:
        return ["held-out: the dark-pattern detector was not trained on any of these pages"]
    if not fold_detectors():
        return [
            f"IN-SAMPLE, not an accuracy figure: {len(seen)} of {len(entries)} pages are "
            "training data of the dark-pattern detector and no fold detectors are shipped"
        ]
    return [
        f"CROSS-VALIDATED (group {FOLDS}-fold by page): {len(seen)} of {len(entries)} pages are "
        "training data of the dark-pattern detector; each was judged by the fold detector "
        f"that never saw it; the other {len(entries) - len(seen)} by the shipped detector"
    ]


def _planted(manifest: Path, texts: Path, jobs: int) -> list[str]:
    shops = [e for e in load_manifest(manifest) if e.kind == "shop_product"]
    wanted = planted.positives(texts)
    started = time.monotonic()
    outcomes = page_eval.run_all(
        planted.assign(shops, wanted, FOLDS), planted.planted_outcome, jobs
    )
    category = {p.text: p.category for p in wanted}
    hits: dict[str, list[bool]] = {}
    for o in outcomes:
        for text in o.planted:
            hits.setdefault(category[text], []).append(o.found(text))
    lines = [
        f"{len(wanted)} texts planted into {len(outcomes)} shop pages; where both are training "
        f"data, judged by the fold detector that saw neither (group {FOLDS}-fold)"
    ]
    for name, found in sorted(hits.items()):
        lines.append(f"{name:<14} found={sum(found) / len(found):.3f} n={len(found)}")
    missed = [t for o in outcomes for t in o.planted if not o.found(t)]
    lines += [f"  missed: \u201c{t[:100]}\u201d" for t in missed[:25]]
    everything = [h for found in hits.values() for h in found]
    recall = sum(everything) / len(everything) if everything else 0.0
    lines.append(f"{len(outcomes)} pages in {time.monotonic() - started:.1f} s")
    lines.append(f"planted_recall={recall:.4f} planted={len(everything)} found={sum(everything)}")
    return lines
