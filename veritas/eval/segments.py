"""`darkpatterns`: the text detector on labelled segments (Yada et al. 2022 format).

A file the shipped detector was trained on (known by the sha256 stored with the model) is
never scored as if it were unseen: each of its texts is judged by the cross-validation fold
detector that was fitted without the text's page, and the figures are labelled as such.
"""

from __future__ import annotations

import csv
from pathlib import Path

from veritas.analysis.darkpatterns import Detector, detect, training_record, using
from veritas.eval.corpus import sha256
from veritas.eval.folds import FOLDS, fold_detectors, fold_of, text_group
from veritas.eval.metrics import Confusion


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def darkpatterns(path: Path) -> list[str]:
    rows = _rows(path)
    trained = training_record(sha256(path.read_bytes())) is not None
    detectors = fold_detectors() if trained else ()
    if trained and not detectors:
        header = "IN-SAMPLE, not an accuracy figure: this file is training data of the detector"
    elif trained:
        header = (
            f"CROSS-VALIDATED (group {FOLDS}-fold by page): this file is training data; each "
            "text is judged by the fold detector fitted without its page"
        )
    else:
        header = "held-out: this file is not training data of the shipped detector"
    pairs = [(r["label"].strip() == "1", _judge(r, detectors)) for r in rows]
    lines = [header]
    by_category: dict[str, list[bool]] = {}
    for row, (truth, predicted) in zip(rows, pairs, strict=True):
        if truth:
            by_category.setdefault(row["Pattern Category"].strip(), []).append(predicted)
    for category, hits in sorted(by_category.items()):
        lines.append(f"{category:<14} recall={sum(hits) / len(hits):.3f} n={len(hits)}")
    lines.append(Confusion.of(pairs).line())
    return lines


def _judge(row: dict[str, str], detectors: tuple[Detector, ...]) -> bool:
    if not detectors:
        return detect(row["text"]) is not None
    with using(detectors[fold_of(text_group(row.get("page_id", "")))]):
        return detect(row["text"]) is not None
