"""Logistic regression over named features: the inference half, pure Python.

Weights live in small JSON files beside this module; `scripts/train_models.py` fits them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class LinearModel:
    bias: float
    weights: Mapping[str, float]
    threshold: float = 0.5

    def score(self, features: Mapping[str, float]) -> float:
        """The log-odds."""
        weights = self.weights
        return self.bias + sum(v * weights.get(k, 0.0) for k, v in features.items())

    def probability(self, features: Mapping[str, float]) -> float:
        return sigmoid(self.score(features))

    def to_dict(self, min_weight: float = 1e-4) -> dict[str, Any]:
        """The JSON form; weights smaller than `min_weight` change no decision and are left out."""
        weights = {k: round(w, 4) for k, w in sorted(self.weights.items()) if abs(w) >= min_weight}
        return {
            "bias": round(self.bias, 5),
            "threshold": round(self.threshold, 5),
            "weights": weights,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearModel:
        return cls(float(data["bias"]), dict(data["weights"]), float(data.get("threshold", 0.5)))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@cache
def load(name: str) -> Mapping[str, Any]:
    """A JSON file shipped with this package (see pyproject's package data)."""
    text = resources.files("veritas.analysis").joinpath(name).read_text(encoding="utf-8")
    data: Mapping[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class Calibrator:
    """Platt scaling: raw log-odds (and whether a rule matched) -> a probability that holds.

    Fitted on out-of-fold scores, so a reported 0.9 is right about nine times in ten on
    texts like those it was fitted on.
    """

    slope: float = 1.0
    intercept: float = 0.0
    rule: float = 0.0

    def probability(self, score: float, rule: bool) -> float:
        return sigmoid(self.slope * score + self.intercept + (self.rule if rule else 0.0))

    def to_dict(self) -> dict[str, float]:
        return {
            "slope": round(self.slope, 5),
            "intercept": round(self.intercept, 5),
            "rule": round(self.rule, 5),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(float(data["slope"]), float(data["intercept"]), float(data["rule"]))
