# ruff: noqa: RUF001  (the table is made of look-alike letters on purpose)
"""Fold look-alike characters, so that "PayPaI", "A0L" and a Greek-Alpha "Amazon" read as brands.

A compact subset of the Unicode confusables table (UTS #39, confusables.txt): the Cyrillic,
Greek and Latin-extension letters that render like basic Latin ones, after NFKC has already
mapped fullwidth, mathematical and ligature forms. The full table (about 6,000 rows, shipped
by the `confusable-homoglyphs` package as a multi-megabyte JSON) would cost start-up time for
scripts no brand name is written in. On top of that, the classes a reader cannot tell apart
in a sans-serif font are merged on both sides of a comparison: i, l, I, 1 and | are one
letter, o and 0 are one, "rn" is "m" and "vv" is "w".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Source character -> the basic Latin letter it passes for (lower case; folding lower-cases).
_TABLE = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "ɡ": "g", "ո": "n", "ս": "u",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ԁ": "d", "Ԛ": "q", "Ԝ": "w",
    "Ӏ": "l",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
    "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    # Latin extensions and symbols
    "ı": "i", "ȷ": "j", "ɩ": "i", "ǀ": "l", "ℓ": "l", "ɑ": "a", "ɒ": "a", "ɛ": "e", "ɾ": "r",
    "ʀ": "r", "ʏ": "y", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m", "ᴏ": "o",
    "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ß": "ss", "æ": "ae",
    "œ": "oe", "ø": "o", "đ": "d", "ħ": "h", "ł": "l",
}  # fmt: skip
_MAP = str.maketrans(_TABLE)
# Classes merged on both sides: one letter each, whatever the font.
_MERGE = str.maketrans({"i": "l", "1": "l", "|": "l", "0": "o"})
_PAIRS = re.compile(r"rn|vv")
_PAIR_TO = {"rn": "m", "vv": "w"}


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case text with look-alikes mapped to one Latin letter and accents dropped."""
    mapped = unicodedata.normalize("NFKC", text).translate(_MAP)
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", mapped) if not unicodedata.combining(c)
    )
    merged = stripped.casefold().translate(_MAP).translate(_MERGE)
    return _PAIRS.sub(lambda m: _PAIR_TO[m.group(0)], merged)


def has_lookalikes(text: str) -> bool:
    """Whether text mixes Latin with a letter the table maps (a sign of deliberate disguise)."""
    latin = any("a" <= c.lower() <= "z" for c in text)
    return latin and any(c in _TABLE for c in text)
