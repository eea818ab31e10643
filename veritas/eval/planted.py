"""`pages --planted`: labelled dark-pattern texts planted into real shop pages as visible blocks.

Recall on isolated texts says little about a page full of prices, menus and reviews; here
every positive text of a labelled set becomes its own visible block among a real page's
top-level elements, and counts as found when a dark-pattern finding of that page quotes it.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from veritas.eval.corpus import Entry
from veritas.eval.folds import fold_of, page_group, text_group
from veritas.eval.pages import Outcome, outcome

_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([\w-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Positive:
    text: str
    category: str
    group: str  # the page the text was collected from


def positives(path: Path) -> list[Positive]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Positive(
            " ".join(r["text"].split()), r["Pattern Category"].strip(), text_group(r["page_id"])
        )
        for r in rows
        if r["label"].strip() == "1" and r["text"].strip()
    ]


def assign(
    shops: Sequence[Entry], texts: Sequence[Positive], folds: int
) -> list[tuple[Entry, tuple[str, ...]]]:
    """Every text to one shop page of its own cross-validation fold, round robin.

    With the text and the page in one fold, the fold detector that saw neither judges them.
    """
    by_fold: dict[int, list[int]] = {}
    for n, shop in enumerate(shops):
        by_fold.setdefault(fold_of(page_group(shop.id), folds), []).append(n)
    everyone = list(range(len(shops)))
    buckets: list[list[str]] = [[] for _ in shops]
    for n, positive in enumerate(texts):
        pool = by_fold.get(fold_of(positive.group, folds), everyone)
        buckets[pool[n % len(pool)]].append(positive.text)
    return [(shop, tuple(b)) for shop, b in zip(shops, buckets, strict=True) if b]


def plant(body: bytes, texts: Sequence[str]) -> bytes:
    """The page with each text as a visible block between evenly spaced top-level elements."""
    match = _CHARSET.search(body[:4096])
    charset = match.group(1).decode("ascii") if match else "utf-8"
    try:
        source = body.decode(charset, errors="replace")
    except LookupError:
        charset, source = "utf-8", body.decode("utf-8", errors="replace")
    tree = LexborHTMLParser(source)
    root = tree.body
    if root is None:
        raise ValueError("the page has no body to plant into")
    children = [c for c in root.iter() if c.tag not in ("-text", "-comment", "script", "style")]
    for n, text in enumerate(texts):
        block = LexborHTMLParser(f"<div><p>{html.escape(text)}</p></div>").body
        assert block is not None and block.child is not None
        if children:
            children[(n * len(children)) // len(texts)].insert_before(block.child)
        else:
            root.insert_child(block.child)
    return (tree.html or "").encode(charset, errors="xmlcharrefreplace")


def planted_outcome(entry: Entry, texts: tuple[str, ...]) -> Outcome:
    return outcome(entry, plant(entry.body(), texts), texts)
