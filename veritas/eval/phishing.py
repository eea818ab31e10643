"""`phishing`: the URL model on labelled addresses.

The model's file records the hash of the file it was fitted on and that file's
cross-validated figures (scripts/train_models.py). Given that same file, this command says
its own figures are in-sample and ends with the cross-validated ones instead.
"""

from __future__ import annotations

import csv
from pathlib import Path

from veritas.analysis.model import load
from veritas.analysis.urls import MODEL_FILE, analyse_url
from veritas.eval.corpus import sha256
from veritas.eval.metrics import Confusion


def phishing(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pairs = [(r["status"].strip() == "phishing", analyse_url(r["url"]).phishing) for r in rows]
    c = Confusion.of(pairs)
    lines = _summary(c)
    training = load(MODEL_FILE).get("training", {})
    if training.get("sha256") != sha256(path.read_bytes()):
        return ["held-out: this file is not training data of the URL model", *lines]
    lines.insert(
        0, "IN-SAMPLE, not an accuracy figure: this file is training data of the URL model"
    )
    held_out = training.get("cross_validated")
    if held_out is None:
        return [*lines, "no cross-validated figures were recorded when the model was fitted"]
    return [
        *lines,
        "CROSS-VALIDATED (5-fold, recorded when the model was fitted on this file):",
        *_summary(Confusion(**held_out)),
    ]


def _summary(c: Confusion) -> list[str]:
    """Counts, then the metrics line that scripts take as the command's last line."""
    return [
        f"tp={c.tp} fp={c.fp} tn={c.tn} fn={c.fn}",
        f"accuracy={c.accuracy:.3f} precision={c.precision:.3f} recall={c.recall:.3f} "
        f"fpr={c.fpr:.3f} n={c.n}",
    ]
