"""Measure the analysers on labelled data: `python -m veritas.eval darkpatterns|phishing FILE`.

Each command runs the very detector the auditor uses, prints a breakdown, and ends with one
line of metrics so that scripts can take the last line.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from veritas.analysis.darkpatterns import detect
from veritas.analysis.urls import analyse_url


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @classmethod
    def of(cls, pairs: Iterable[tuple[bool, bool]]) -> Confusion:
        """From (truth, prediction) pairs."""
        counts = Counter((bool(t), bool(p)) for t, p in pairs)
        return cls(
            counts[True, True], counts[False, True], counts[False, False], counts[True, False]
        )

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else 0.0


def _rows(path: Path, delimiter: str) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def darkpatterns(path: Path) -> list[str]:
    rows = _rows(path, "\t")
    pairs = [(r["label"].strip() == "1", detect(r["text"]) is not None) for r in rows]
    lines = []
    by_category: dict[str, list[bool]] = {}
    for row, (truth, predicted) in zip(rows, pairs, strict=True):
        if truth:
            by_category.setdefault(row["Pattern Category"].strip(), []).append(predicted)
    for category, hits in sorted(by_category.items()):
        lines.append(f"{category:<14} recall={sum(hits) / len(hits):.3f} n={len(hits)}")
    c = Confusion.of(pairs)
    lines.append(
        f"f1={c.f1:.3f} precision={c.precision:.3f} recall={c.recall:.3f} fpr={c.fpr:.3f} n={c.n}"
    )
    return lines


def phishing(path: Path) -> list[str]:
    rows = _rows(path, ",")
    pairs = [(r["status"].strip() == "phishing", analyse_url(r["url"]).phishing) for r in rows]
    c = Confusion.of(pairs)
    return [
        f"tp={c.tp} fp={c.fp} tn={c.tn} fn={c.fn}",
        f"accuracy={c.accuracy:.3f} precision={c.precision:.3f} recall={c.recall:.3f} "
        f"fpr={c.fpr:.3f} n={c.n}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m veritas.eval", description=__doc__)
    parser.add_argument("task", choices=("darkpatterns", "phishing"))
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    lines = darkpatterns(args.file) if args.task == "darkpatterns" else phishing(args.file)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
