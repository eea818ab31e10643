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

    def to_dict(self) -> dict[str, Any]:
        weights = {k: round(w, 5) for k, w in sorted(self.weights.items()) if abs(w) >= 1e-4}
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
