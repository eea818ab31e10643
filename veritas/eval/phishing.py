"""`phishing`: the URL model on labelled addresses."""

from __future__ import annotations

import csv
from pathlib import Path

from veritas.analysis.urls import analyse_url
from veritas.eval.metrics import Confusion


def phishing(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pairs = [(r["status"].strip() == "phishing", analyse_url(r["url"]).phishing) for r in rows]
    c = Confusion.of(pairs)
    return [
        f"tp={c.tp} fp={c.fp} tn={c.tn} fn={c.fn}",
        f"accuracy={c.accuracy:.3f} precision={c.precision:.3f} recall={c.recall:.3f} "
        f"fpr={c.fpr:.3f} n={c.n}",
    ]
