"""Paid extras that arrive already selected (sneak into basket), read from the form fields."""

from __future__ import annotations

import re
from collections.abc import Iterator

from veritas.analysis import html
from veritas.finding import Finding

_PRICE = re.compile(r"[$£€¥]\s?\d|\d\s?(usd|eur|gbp)\b|\+\s?\d+[.,]\d{2}", re.IGNORECASE)
_ADDON = re.compile(
    r"insurance|protection|warranty|donat|\btip\b|priority|express|gift wrap|membership|"
    r"subscri|premium|add[- ]on|extended|cover\b",
    re.IGNORECASE,
)


def preselected(doc: html.Document) -> Iterator[Finding]:
    """A visible checkbox, ticked before the visitor touched it, that adds something paid.

    A pre-ticked newsletter or "remember me" box costs nothing and is not reported.
    """
    for field in doc.fields:
        if field.type != "checkbox" or not field.checked or field.hidden:
            continue
        label = field.label[:200]
        if _PRICE.search(label) and _ADDON.search(label):
            yield Finding(
                "dark_pattern",
                "sneak_into_basket",
                "high",
                0.85,
                f"Sneaking: a paid add-on is pre-selected at {field.where}: \u201c{label}\u201d",
                "An extra you did not choose is already ticked and would be added to what you pay.",
                label,
                doc.url,
            )
