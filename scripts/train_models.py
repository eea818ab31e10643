"""Fit the dark-pattern and phishing-URL weights from the development halves of the data.

    python scripts/train_models.py ../shared/data

Pure Python, deterministic. It first estimates accuracy on unseen data with 5-fold
cross-validation (the decision threshold is chosen inside each training fold, never on
the fold it is scored on), then fits on the whole development half and writes the JSON
weights the auditor ships: only feature names (words, tokens) and numbers, never a row.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from veritas.analysis import darkpatterns, urls
from veritas.analysis.model import LinearModel
from veritas.eval import Confusion

Features = dict[str, float]
Objective = Callable[[list[tuple[bool, float]]], float]
HERE = Path(__file__).resolve().parent.parent / "veritas" / "analysis"
FOLDS = 5


def fit(rows: Sequence[tuple[Features, bool]], l2: float, epochs: int, min_df: int) -> LinearModel:
    """L2-regularised logistic regression by Adagrad over sparse features."""
    df = Counter(k for feats, _ in rows for k in feats)
    keep = {k for k, n in df.items() if n >= min_df}
    weights: dict[str, float] = dict.fromkeys(keep, 0.0)
    grads: dict[str, float] = dict.fromkeys(keep, 1e-8)
    bias, bias_grad = 0.0, 1e-8
    order = list(range(len(rows)))
    shuffle = random.Random(0)
    for _ in range(epochs):
        shuffle.shuffle(order)
        for i in order:
            feats, label = rows[i]
            z = bias + sum(v * weights[k] for k, v in feats.items() if k in keep)
            error = _sigmoid(z) - (1.0 if label else 0.0)
            bias_grad += error * error
            bias -= 0.5 * error / math.sqrt(bias_grad)
            for k, v in feats.items():
                if k in keep:
                    g = error * v + l2 * weights[k]
                    grads[k] += g * g
                    weights[k] -= 0.5 * g / math.sqrt(grads[k])
    return LinearModel(bias, weights)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def folds(labels: Sequence[bool], k: int, seed: int) -> list[int]:
    """Stratified fold number of every row."""
    assignment = [0] * len(labels)
    rng = random.Random(seed)
    for value in (True, False):
        members = [i for i, label in enumerate(labels) if label == value]
        rng.shuffle(members)
        for n, i in enumerate(members):
            assignment[i] = n % k
    return assignment


def out_of_fold(rows, k, seed, **params) -> list[float]:  # type: ignore[no-untyped-def]
    fold = folds([label for _, label in rows], k, seed)
    scores = [0.0] * len(rows)
    for f in range(k):
        model = fit([r for r, n in zip(rows, fold, strict=True) if n != f], **params)
        for i, n in enumerate(fold):
            if n == f:
                scores[i] = model.probability(rows[i][0])
    return scores


def choose_threshold(labelled: list[tuple[bool, float]], objective: Objective) -> float:
    candidates = sorted({round(p, 3) for _, p in labelled})
    return max(candidates, key=lambda t: objective([(y, p >= t) for y, p in labelled]))


def f1_at_precision(floor: float) -> Objective:
    def objective(pairs: list[tuple[bool, float]]) -> float:
        c = Confusion.of(pairs)
        return c.f1 if c.precision >= floor else c.precision - 1

    return objective


def accuracy_at_fpr(ceiling: float) -> Objective:
    def objective(pairs: list[tuple[bool, float]]) -> float:
        c = Confusion.of(pairs)
        return c.accuracy if c.fpr <= ceiling else -c.fpr

    return objective


def fit_with_threshold(rows, objective, **params) -> LinearModel:  # type: ignore[no-untyped-def]
    """Fit, with a threshold chosen on out-of-fold scores of these same rows only."""
    scores = out_of_fold(rows, 4, 1, **params)
    threshold = choose_threshold(
        [(y, p) for (_, y), p in zip(rows, scores, strict=True)], objective
    )
    model = fit(rows, **params)
    return LinearModel(model.bias, model.weights, threshold)


def cross_validate(rows, objective, **params) -> Confusion:  # type: ignore[no-untyped-def]
    fold = folds([label for _, label in rows], FOLDS, 7)
    pairs: list[tuple[bool, bool]] = []
    for f in range(FOLDS):
        train = [r for r, n in zip(rows, fold, strict=True) if n != f]
        model = fit_with_threshold(train, objective, **params)
        test = [r for r, n in zip(rows, fold, strict=True) if n == f]
        pairs.extend((y, model.probability(x) >= model.threshold) for x, y in test)
    return Confusion.of(pairs)


def report(name: str, c: Confusion) -> None:
    print(f"{name}: accuracy={c.accuracy:.3f} f1={c.f1:.3f} precision={c.precision:.3f} "
          f"recall={c.recall:.3f} fpr={c.fpr:.3f} n={c.n}")  # fmt: skip


def train_darkpatterns(path: Path, cv: bool) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        data = list(csv.DictReader(handle, delimiter="\t"))
    rows = [(darkpatterns.features(r["text"]), r["label"].strip() == "1") for r in data]
    params = {"l2": 1e-3, "epochs": 25, "min_df": 2}
    objective = f1_at_precision(0.985)
    if cv:
        report("darkpatterns 5-fold held-out", cross_validate(rows, objective, **params))
    detector = fit_with_threshold(rows, objective, **params)
    categories = {}
    positives = [
        (feats, r["Pattern Category"].strip())
        for (feats, y), r in zip(rows, data, strict=True)
        if y
    ]
    for category in darkpatterns.CATEGORIES:
        labelled = [(feats, c == category) for feats, c in positives]
        categories[category] = fit(labelled, l2=1e-3, epochs=25, min_df=2).to_dict()
    out = {"detector": detector.to_dict(), "categories": categories}
    (HERE / darkpatterns.MODEL_FILE).write_text(json.dumps(out, sort_keys=True) + "\n")


def train_phishing(path: Path, cv: bool) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        data = list(csv.DictReader(handle))
    rows = [(urls.features(r["url"]), r["status"].strip() == "phishing") for r in data]
    params = {"l2": 1e-4, "epochs": 3, "min_df": 5}
    objective = accuracy_at_fpr(0.025)
    if cv:
        report("phishing 5-fold held-out", cross_validate(rows, objective, **params))
    model = fit_with_threshold(rows, objective, **params)
    (HERE / urls.MODEL_FILE).write_text(json.dumps(model.to_dict(), sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data directory")
    parser.add_argument("--only", choices=("darkpatterns", "phishing"))
    parser.add_argument("--no-cv", action="store_true", help="skip the held-out estimate")
    args = parser.parse_args()
    if args.only in (None, "darkpatterns"):
        train_darkpatterns(args.data / "darkpatterns" / "yada2022-dev.tsv", not args.no_cv)
    if args.only in (None, "phishing"):
        train_phishing(args.data / "phishing" / "hannousse2021-dev.csv", not args.no_cv)


if __name__ == "__main__":
    main()
