"""One test's conclusion: the Observatory's result name, its modifier, and whether it passed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veritas.analysis.headers.table import SCORE_TABLE, modifier


@dataclass(frozen=True, slots=True)
class TestOutcome:
    __test__ = False  # a result type, not a pytest test class

    test: str  # "content-security-policy"
    result: str  # "csp-not-implemented"
    passed: bool  # the Observatory's own pass/fail, which is not always "modifier >= 0"
    reason: str
    evidence: str = ""

    @property
    def modifier(self) -> int:
        return modifier(self.result)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "result": self.result,
            "modifier": self.modifier,
            "pass": self.passed,
            "reason": self.reason,
        }


def outcome(test: str, result: str, passed: bool, evidence: str = "") -> TestOutcome:
    """An outcome whose reason is the table's description of the result."""
    return TestOutcome(test, result, passed, SCORE_TABLE[result][1], evidence[:300])
