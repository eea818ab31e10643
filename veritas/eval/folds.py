"""Cross-validation folds of the dark-pattern detector, shared by training and evaluation.

A text's fold follows from its group (the page it came from) alone, so `veritas.eval`
can pick, for a training page or text, the fold detector that never saw it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

from veritas.analysis.darkpatterns import Detector

FOLDS = 5
FOLDS_FILE = "darkpattern_folds.json"


def fold_of(group: str, folds: int = FOLDS, salt: str = "") -> int:
    digest = hashlib.sha1(f"{salt}{group}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % folds


def page_group(page_id: str) -> str:
    return f"page:{page_id}"


def text_group(page_id: str) -> str:
    return f"yada:{page_id}"


@cache
def fold_detectors() -> tuple[Detector, ...]:
    """The detector fitted without each fold, as training wrote them; () when absent."""
    try:
        text = resources.files("veritas.analysis").joinpath(FOLDS_FILE).read_text("utf-8")
    except FileNotFoundError:
        return ()
    return tuple(Detector.from_dict(d) for d in json.loads(text)["detectors"])
