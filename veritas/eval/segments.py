"""`darkpatterns`: the text detector on labelled segments (Yada et al. 2022 format).

A file the shipped model was trained on is never scored as if it were unseen: its
cross-validated figures, stored with the model at training time, are reported instead,
labelled as such, next to the in-sample figures of the shipped model.
"""

from __future__ import annotations

import csv
from pathlib import Path

from veritas.analysis.darkpatterns import detect, training_record
from veritas.eval.corpus import sha256
from veritas.eval.metrics import Confusion


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def darkpatterns(path: Path) -> list[str]:
    rows = _rows(path)
    pairs = [(r["label"].strip() == "1", detect(r["text"]) is not None) for r in rows]
    lines = []
    by_category: dict[str, list[bool]] = {}
    for row, (truth, predicted) in zip(rows, pairs, strict=True):
        if truth:
            by_category.setdefault(row["Pattern Category"].strip(), []).append(predicted)
    for category, hits in sorted(by_category.items()):
        lines.append(f"{category:<14} recall={sum(hits) / len(hits):.3f} n={len(hits)}")
    c = Confusion.of(pairs)
    record = training_record(sha256(path.read_bytes()))
    if record is None:
        lines.append("no training record of this file in the model (held-out if it never saw it):")
        lines.append(c.line())
        return lines
    lines.append(
        f"IN-SAMPLE (this file is training data of the shipped model): {c.line()} -- "
        "not an accuracy figure"
    )
    lines.append(f"cross-validated at training ({record.get('method', 'group k-fold')}):")
    lines.append(str(record["cv"]))
    return lines
