"""The brands phishers imitate (brands.json), and finding their names in text a page shows.

Names are matched on folded words (see `confusables`), so "PayPaI", "A0L" and an "Amazon"
spelt with a Greek capital Alpha are found, and as whole word sequences, so "Bank of America"
is one name and "chase" inside "purchase" is none. A name that is also an ordinary word
("Apple", "Chase", "Box") counts only where it is written with a capital; a name of three
letters or fewer only in capitals ("BT"). "Sign in with Google" offers another login; it is
not a claim to be Google.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from veritas.analysis.confusables import fold
from veritas.analysis.domain import registrable_domain, split_host

DATA_FILE = "brands.json"
# Letters and digits, plus the look-alikes NFKC keeps apart from them ("|" for "l").
_WORD = re.compile(r"[^\W_]+(?:[|][^\W_]*)*|[|]+[^\W_]+")
# "Sign in with Google", "Continue with Apple": an offer to log in elsewhere, not a claim.
_DELEGATION = frozenset(
    fold(w) for w in ("with", "using", "via", "through", "mit", "avec", "con", "com", "met")
)
# Shorter run-together names are too often initials ("MS" for a state, not Marks & Spencer).
_MIN_JOINED = 6
_SHORT = 3


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    domains: tuple[str, ...]
    names: tuple[str, ...]  # the name and its aliases, as written in brands.json
    common_word: bool = False
    self_hosted: bool = False  # software sites run under their own names (WordPress)

    def owns(self, domain: str) -> bool:
        """Whether a registrable domain is the brand's own, ccTLD variants of its labels too."""
        if domain in self.domains:
            return True
        label = split_host(domain)[1]
        return bool(label) and label in {split_host(d)[1] for d in self.domains}


@dataclass(frozen=True, slots=True)
class _Alias:
    words: tuple[str, ...]  # folded
    brand: Brand
    strict: bool  # only as a capitalised word (ordinary words), or in capitals (short names)
    short: bool


@dataclass(frozen=True, slots=True)
class BrandList:
    brands: tuple[Brand, ...]
    sources: tuple[str, ...]
    by_first_word: Mapping[str, tuple[_Alias, ...]]
    by_joined: Mapping[str, tuple[_Alias, ...]]  # "bankofamerica" -> Bank of America
    by_domain: Mapping[str, Brand]

    def owner_of(self, domain: str) -> Brand | None:
        return self.by_domain.get(domain)

    def is_name(self, word: str) -> bool:
        """Whether one word (a host label) is a brand's name: "paypal" in paypal.example.top."""
        folded = fold(word)
        return folded in self.by_joined and any(
            not a.strict or len(folded) > _SHORT for a in self.by_joined[folded]
        )

    def find(self, text: str) -> list[Brand]:
        """Brands named in text, in order of first mention, each once."""
        return list(dict.fromkeys(self._mentions(text)))

    def _mentions(self, text: str) -> Iterator[Brand]:
        raw = _WORD.findall(text)
        words = [fold(w) for w in raw]
        for i, word in enumerate(words):
            if i and words[i - 1] in _DELEGATION:
                continue
            for alias in self.by_first_word.get(word, ()):
                end = i + len(alias.words)
                if tuple(words[i:end]) == alias.words and _written_as(raw[i], alias):
                    yield alias.brand
            for alias in self.by_joined.get(word, ()):
                if len(alias.words) > 1 and len(word) >= _MIN_JOINED and _written_as(raw[i], alias):
                    yield alias.brand

    def in_names(self, names: Sequence[str]) -> list[Brand]:
        """Brands whose name starts a word of a file name: "chasefavicon.ico", "paypal-logo.png"."""
        found: list[Brand] = []
        for name in names:
            for word in _WORD.findall(name):
                folded = fold(word)
                found.extend(
                    alias.brand
                    for key, aliases in self.by_joined.items()
                    if len(key) >= 4 and folded.startswith(key)
                    for alias in aliases
                    # An ordinary word alone is a name, not a brand: apple-touch-icon.png.
                    if not alias.strict or len(folded) > len(key)
                )
        return list(dict.fromkeys(found))


def _written_as(word: str, alias: _Alias) -> bool:
    if not alias.strict:
        return True
    if alias.short and not alias.brand.common_word:
        return word.isupper()
    return word[:1].isupper()


def _aliases(brand: Brand) -> Iterator[_Alias]:
    for name in brand.names:
        words = tuple(fold(w) for w in _WORD.findall(name))
        if not words:
            continue
        short = len("".join(words)) <= _SHORT
        strict = short or (brand.common_word and name == brand.name)
        yield _Alias(words, brand, strict, short)


@cache
def brand_list() -> BrandList:
    """The bundled list, read once per process."""
    raw = json.loads(resources.files("veritas.analysis").joinpath(DATA_FILE).read_text("utf-8"))
    brands = tuple(
        Brand(
            name=b["name"],
            domains=tuple(b["domains"]),
            names=(b["name"], *b.get("aliases", ())),
            common_word=bool(b.get("common_word", False)),
            self_hosted=bool(b.get("self_hosted", False)),
        )
        for b in raw["brands"]
    )
    first: dict[str, list[_Alias]] = {}
    joined: dict[str, list[_Alias]] = {}
    for brand in brands:
        for alias in _aliases(brand):
            first.setdefault(alias.words[0], []).append(alias)
            joined.setdefault("".join(alias.words), []).append(alias)
    by_domain: dict[str, Brand] = {}
    for brand in brands:
        for domain in brand.domains:
            by_domain.setdefault(registrable_domain(domain), brand)
    return BrandList(
        brands=brands,
        sources=tuple(raw["sources"]),
        by_first_word={k: tuple(v) for k, v in first.items()},
        by_joined={k: tuple(v) for k, v in joined.items()},
        by_domain=by_domain,
    )
