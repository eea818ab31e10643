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
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from veritas.analysis import darkpatterns, html, urls
from veritas.analysis.model import Calibrator, LinearModel
from veritas.eval import Confusion, corpus
from veritas.eval import folds as groups

Features = dict[str, float]
Objective = Callable[[list[tuple[bool, float]]], float]
HERE = Path(__file__).resolve().parent.parent / "veritas" / "analysis"
FOLDS = 5


def fit(
    rows: Sequence[tuple[Features, bool]],
    l2: float,
    epochs: int,
    min_df: int,
    positive_weight: float = 1.0,
) -> LinearModel:
    """L2-regularised logistic regression by Adagrad over sparse features."""
    df = Counter(k for feats, _ in rows for k in feats)
    names = sorted(k for k, n in df.items() if n >= min_df)
    index = {k: i for i, k in enumerate(names)}
    active = [[(index[k], v) for k, v in feats.items() if k in index] for feats, _ in rows]
    weights = [0.0] * len(names)
    grads = [1e-8] * len(names)
    bias, bias_grad = 0.0, 1e-8
    order = list(range(len(rows)))
    shuffle = random.Random(0)
    sqrt = math.sqrt
    for _ in range(epochs):
        shuffle.shuffle(order)
        for i in order:
            label = rows[i][1]
            z = bias + sum(v * weights[k] for k, v in active[i])
            error = (_sigmoid(z) - (1.0 if label else 0.0)) * (positive_weight if label else 1.0)
            bias_grad += error * error
            bias -= 0.5 * error / sqrt(bias_grad)
            for k, v in active[i]:
                g = error * v + l2 * weights[k]
                grads[k] += g * g
                weights[k] -= 0.5 * g / sqrt(grads[k])
    return LinearModel(bias, dict(zip(names, weights, strict=True)))


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


def train_darkpatterns(data_dir: Path, cv: bool) -> None:
    texts = data_dir / "darkpatterns" / "yada2022-dev.tsv"
    manifest = data_dir / "realpages" / "manifest.jsonl"
    rows, categories_of, pages = dark_rows(texts, manifest)
    lines: list[str] = []
    detectors: list[darkpatterns.Detector] = []
    if cv:
        detectors = fold_detectors(rows)
        lines = dark_cross_validate(rows, detectors)
        for line in lines:
            print(f"darkpatterns {line}")
    final = fit_detector(rows)
    positives = [(r.feats, categories_of[i]) for i, r in enumerate(rows) if i in categories_of]
    categories = {
        category: fit([(f, c == category) for f, c in positives], **DARK_CATEGORY_PARAMS).to_dict(
            0.01
        )
        for category in darkpatterns.CATEGORIES
    }
    method = f"group {groups.FOLDS}-fold by source page, thresholds chosen inside each fold"
    record = {"method": method, "cv": " | ".join(lines) or "not measured"}
    out = {
        "detector": final.to_dict(),
        "categories": categories,
        "trained_on": {
            corpus.sha256(texts.read_bytes()): {"file": texts.name, **record},
            corpus.sha256(manifest.read_bytes()): {"file": manifest.name, **record},
        },
        "trained_pages": sorted(pages),
    }
    (HERE / darkpatterns.MODEL_FILE).write_text(json.dumps(out, sort_keys=True) + "\n")
    if detectors:
        data = {"detectors": [d.to_dict() for d in detectors]}
        (HERE / groups.FOLDS_FILE).write_text(json.dumps(data, sort_keys=True) + "\n")


@dataclass(frozen=True, slots=True)
class Row:
    feats: Features
    label: bool
    rule: bool
    group: str
    fold: int
    real: bool  # a block of a saved real page, not a labelled text


def dark_rows(texts: Path, manifest: Path) -> tuple[list[Row], dict[int, str], set[str]]:
    """Labelled texts, and every visible block of the legitimate real pages as negatives.

    A block that quotes one of a page's real pressure claims is a positive.
    """
    rows: list[Row] = []
    categories: dict[int, str] = {}
    with texts.open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle, delimiter="\t"):
            if r["label"].strip() == "1":
                categories[len(rows)] = r["Pattern Category"].strip()
            rows.append(_row(r["text"], r["label"].strip() == "1", groups.text_group(r["page_id"])))
    pages: set[str] = set()
    seen: set[tuple[int, str]] = set()
    for entry in corpus.load_manifest(manifest):
        if entry.label != "legit":
            continue
        pages.add(entry.sha256)
        page = corpus.served_page(entry.url, entry.body())
        doc = html.parse(page.text, page.final_url)
        group = groups.page_group(entry.id)
        for segment in doc.segments:
            claim = any(_quotes(segment.text, c.text) for c in entry.claims)
            key = (groups.fold_of(group), segment.text)
            if claim or key not in seen:  # a menu label repeated on many pages is one row
                seen.add(key)
                rows.append(_row(segment.text, claim, group, real=True))
    return rows, categories, pages


def _quotes(block: str, claim: str) -> bool:
    a, b = " ".join(block.lower().split()), " ".join(claim.lower().split())
    return b in a or (len(a) >= 4 and a in b)


def _row(text: str, label: bool, group: str, real: bool = False) -> Row:
    feats = darkpatterns.features(text)
    rule = bool(darkpatterns.rule_hits(text))
    return Row(feats, label, rule, group, groups.fold_of(group), real)


DARK_PARAMS = {"l2": 1e-4, "epochs": 4, "min_df": 3, "positive_weight": 4.0}
DARK_CATEGORY_PARAMS = {"l2": 1e-3, "epochs": 25, "min_df": 2}
INNER_FOLDS = 3
# Precision asked of the chosen thresholds over every labelled text and real block at once.
PRECISION_FLOOR = 0.985


def fit_detector(rows: Sequence[Row]) -> darkpatterns.Detector:
    """Fit; calibrate and choose thresholds on out-of-fold scores of these same rows only."""
    inner = [groups.fold_of(r.group, INNER_FOLDS, salt="inner") for r in rows]
    scores = [0.0] * len(rows)
    for f in range(INNER_FOLDS):
        model = fit([(r.feats, r.label) for r, n in zip(rows, inner, strict=True) if n != f],
                    **DARK_PARAMS)  # fmt: skip
        for i, n in enumerate(inner):
            if n == f:
                scores[i] = model.score(rows[i].feats)
    calibrator = platt([(s, r.rule, r.label) for s, r in zip(scores, rows, strict=True)])
    probs = [calibrator.probability(s, r.rule) for s, r in zip(scores, rows, strict=True)]
    rule_t, model_t = thresholds([(p, r.rule, r.label) for p, r in zip(probs, rows, strict=True)])
    model = fit([(r.feats, r.label) for r in rows], **DARK_PARAMS)
    return darkpatterns.Detector(model, calibrator, rule_t, model_t)


def platt(points: Sequence[tuple[float, bool, bool]]) -> Calibrator:
    """Logistic regression of the label on (score, rule) by Newton's method."""
    w = [1.0, 0.0, 0.0]  # slope, intercept, rule
    for _ in range(25):
        grad = [0.0, 0.0, 0.0]
        hess = [[1e-6 if i == j else 0.0 for j in range(3)] for i in range(3)]
        for score, rule, label in points:
            x = (score, 1.0, 1.0 if rule else 0.0)
            p = _sigmoid(w[0] * x[0] + w[1] + w[2] * x[2])
            for i in range(3):
                grad[i] += (p - label) * x[i]
                for j in range(3):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
    return Calibrator(w[0], w[1], w[2])


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination for the 3x3 Newton step."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                factor = m[r][c] / m[c][c]
                m[r] = [x - factor * y for x, y in zip(m[r], m[c], strict=True)]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def thresholds(points: Sequence[tuple[float, bool, bool]]) -> tuple[float, float]:
    """(with a rule, model alone): the best F1 whose precision stays above the floor."""
    live = [(p, rule, y) for p, rule, y in points if p >= 0.05]
    positives = sum(1 for _, _, y in points if y)
    grid = [round(0.05 * i, 2) for i in range(1, 20)] + [0.97, 0.98, 0.99, 0.995, 1.01]
    best, choice = -1.0, (0.5, 1.01)
    for rule_t in grid:
        for model_t in grid:
            if model_t < rule_t:
                continue
            tp = fp = 0
            for p, rule, y in live:
                if p >= model_t or (rule and p >= rule_t):
                    tp, fp = tp + y, fp + (not y)
            c = Confusion(tp=tp, fp=fp, fn=positives - tp)
            value = c.f1 if c.precision >= PRECISION_FLOOR else c.precision - 1
            if value > best:
                best, choice = value, (rule_t, model_t)
    return choice


_ROWS: list[Row] = []  # shared with the fold workers by fork, not by pickling


def _fold_detector(f: int) -> darkpatterns.Detector:
    return fit_detector([r for r in _ROWS if r.fold != f])


def fold_detectors(rows: list[Row]) -> list[darkpatterns.Detector]:
    """The detector fitted without each fold, two folds at a time."""
    _ROWS[:] = rows
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_fold_detector, range(groups.FOLDS)))


def dark_cross_validate(
    rows: Sequence[Row], detectors: Sequence[darkpatterns.Detector]
) -> list[str]:
    """Out-of-fold decisions of detectors fitted without each fold: texts and real pages."""
    decided: list[bool] = []
    for r in rows:
        d = detectors[r.fold]
        p = d.probability(r.feats, r.rule)
        decided.append(p >= d.model_threshold or (r.rule and p >= d.rule_threshold))
    texts = Confusion.of((r.label, d) for r, d in zip(rows, decided, strict=True) if not r.real)
    real = [(r, d) for r, d in zip(rows, decided, strict=True) if r.real]
    false_pages = {r.group for r, d in real if d and not r.label}
    all_pages = {r.group for r, _ in real}
    claims = [d for r, d in real if r.label]
    return [
        f"labelled texts: {texts.line()}",
        f"real blocks: {sum(1 for r, d in real if d and not r.label)} false of {len(real)}, "
        f"pages with a false block {len(false_pages)}/{len(all_pages)} (before the page "
        f"context), claim blocks found {sum(claims)}/{len(claims)}",
    ]


def train_phishing(path: Path, cv: bool) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        data = list(csv.DictReader(handle))
    rows = [(urls.features(r["url"]), r["status"].strip() == "phishing") for r in data]
    params = {"l2": 1e-4, "epochs": 3, "min_df": 5}
    objective = accuracy_at_fpr(0.025)
    # The file's hash and its out-of-fold figures go with the weights, so that
    # `veritas.eval phishing` never reports this file's in-sample figures as an accuracy.
    training: dict[str, object] = {"sha256": corpus.sha256(path.read_bytes())}
    if cv:
        held_out = cross_validate(rows, objective, **params)
        report("phishing 5-fold held-out", held_out)
        training["cross_validated"] = held_out.counts()
    model = fit_with_threshold(rows, objective, **params)
    document = {**model.to_dict(), "training": training}
    (HERE / urls.MODEL_FILE).write_text(json.dumps(document, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data directory")
    parser.add_argument("--only", choices=("darkpatterns", "phishing"))
    parser.add_argument("--no-cv", action="store_true", help="skip the held-out estimate")
    args = parser.parse_args()
    if args.only in (None, "darkpatterns"):
        train_darkpatterns(args.data, not args.no_cv)
    if args.only in (None, "phishing"):
        train_phishing(args.data / "phishing" / "hannousse2021-dev.csv", not args.no_cv)


if __name__ == "__main__":
    main()
