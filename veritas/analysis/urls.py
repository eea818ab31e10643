"""What a bare URL string says about phishing, before anything is fetched.

`analyse_url` needs no network and no page: the evaluation calls it on URL strings alone,
and the `phishing` module calls it on every URL the scout saw.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote, urlsplit

from veritas.analysis.domain import is_ip, registrable_domain, split_host
from veritas.analysis.lexicon import BRANDS, CREDENTIAL_WORDS, RISKY_TLDS, SHORTENERS
from veritas.analysis.model import LinearModel, load, sigmoid

MODEL_FILE = "phishing_url_model.json"
_TOKEN = re.compile(r"[a-z0-9]+")
# Digits and letter pairs that pass for letters at a glance (paypa1, rnicrosoft).
_LOOKALIKE = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"})


@dataclass(frozen=True, slots=True)
class UrlSign:
    kind: str  # "ip_host", "brand_outside_domain", ...
    detail: str
    weight: float  # rough log-odds, used only when no trained model is shipped


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    url: str
    probability: float
    phishing: bool
    signs: tuple[UrlSign, ...]


@dataclass(frozen=True, slots=True)
class _Parts:
    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    subdomain: str
    label: str  # the registrable domain's own label ("paypal" in paypal.co.uk)
    suffix: str
    domain: str  # registrable domain


def _parts(url: str) -> _Parts:
    raw = url.strip()
    if "://" not in raw[:12]:
        raw = "http://" + raw
    try:
        split = urlsplit(raw)
        host = (split.hostname or "").rstrip(".")
        port = split.port
    except ValueError:
        split, host, port = urlsplit("http://invalid/"), "", None
    sub, label, suffix = split_host(host)
    return _Parts(
        url=raw,
        scheme=split.scheme.lower(),
        host=host,
        port=port,
        path=unquote(split.path),
        query=unquote(split.query),
        subdomain=sub,
        label=label,
        suffix=suffix,
        domain=registrable_domain(host),
    )


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _brand_hits(tokens: list[str], text: str) -> set[str]:
    hits = {b for b in BRANDS if b in tokens}
    # Long brand names are distinctive enough to find inside words (paypal-secure, mypaypal).
    hits |= {b for b in BRANDS if len(b) >= 6 and b in text}
    return hits


def _official(brand: str, domain: str) -> bool:
    return domain in BRANDS[brand]


def signs(url: str) -> list[UrlSign]:
    """The human-readable reasons a URL looks like phishing."""
    p = _parts(url)
    found: list[UrlSign] = []
    if is_ip(p.host):
        found.append(UrlSign("ip_host", f"the host is a bare IP address ({p.host})", 2.0))
    if "@" in p.url.split("://", 1)[-1].split("/", 1)[0]:
        found.append(UrlSign("at_sign", "an @ hides the real host after it", 2.0))
    depth = len([s for s in p.subdomain.split(".") if s and s != "www"])
    if depth >= 3:
        found.append(UrlSign("many_subdomains", f"{depth} levels of subdomain", 1.0))
    found.extend(_lookalike_signs(p))
    found.extend(_brand_signs(p))
    if p.suffix.rsplit(".", 1)[-1] in RISKY_TLDS:
        found.append(UrlSign("risky_tld", f".{p.suffix} is common in abuse reports", 0.7))
    if p.domain in SHORTENERS:
        found.append(UrlSign("shortener", f"{p.domain} hides the destination", 1.0))
    words = [w for w in CREDENTIAL_WORDS if w in (p.host + p.path + p.query).lower()]
    if words:
        found.append(UrlSign("credential_words", ", ".join(words[:4]), 0.5 * len(words[:3])))
    if p.port not in (None, 80, 443):
        found.append(UrlSign("odd_port", f"port {p.port}", 0.8))
    if "//" in p.path or re.search(r"https?:", p.path + p.query):
        found.append(UrlSign("embedded_url", "another URL inside the path", 0.8))
    return found


def _lookalike_signs(p: _Parts) -> list[UrlSign]:
    found = []
    labels = p.host.split(".")
    if any(label.startswith("xn--") for label in labels):
        shown = _decode_idna(p.host)
        found.append(UrlSign("punycode", f"internationalised host shown as {shown}", 1.5))
        if _mixed_scripts(shown):
            found.append(UrlSign("mixed_scripts", f"{shown} mixes alphabets", 2.0))
    squashed = p.label.translate(_LOOKALIKE).replace("rn", "m").replace("vv", "w")
    for brand in BRANDS:
        if len(brand) >= 5 and brand in squashed and brand not in p.label:
            found.append(UrlSign("lookalike_brand", f"{p.label} imitates {brand}", 2.5))
    return found


def _brand_signs(p: _Parts) -> list[UrlSign]:
    found = []
    outside = (p.subdomain + " " + p.path + " " + p.query).lower()
    for brand in sorted(_brand_hits(_tokens(outside), outside)):
        if not _official(brand, p.domain):
            found.append(UrlSign("brand_outside_domain", f"'{brand}' appears outside its own "
                                 f"domain (registered domain is {p.domain})", 2.0))  # fmt: skip
    for brand in sorted(_brand_hits([p.label], p.label)):
        if not _official(brand, p.domain):
            found.append(UrlSign("brand_in_unofficial_domain", f"{p.domain} uses '{brand}' but "
                                 "is not its domain", 1.5))  # fmt: skip
    return found


def _decode_idna(host: str) -> str:
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def _mixed_scripts(text: str) -> bool:
    scripts = set()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "UNKNOWN")
            scripts.add(name.split(" ", 1)[0])
    return len(scripts) > 1


def entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def features(url: str) -> dict[str, float]:
    """Named numeric features for the model: the signs, the shape, and the words."""
    p = _parts(url)
    found = signs(url)
    feats: dict[str, float] = {f"sign:{s.kind}": 1.0 for s in found}
    rest = p.url.split("://", 1)[-1]
    digits = sum(c.isdigit() for c in rest)
    feats |= {
        "len_url": math.log1p(len(rest)) / 5,
        "len_host": math.log1p(len(p.host)) / 4,
        "len_path": math.log1p(len(p.path)) / 5,
        "len_query": math.log1p(len(p.query)) / 5,
        "dots_host": p.host.count(".") / 4,
        "hyphens_host": min(p.host.count("-"), 5) / 5,
        "hyphens_path": min(p.path.count("-"), 10) / 10,
        "digit_ratio": digits / max(1, len(rest)),
        "digits_host": sum(c.isdigit() for c in p.host) / max(1, len(p.host)),
        "path_depth": min(p.path.count("/"), 10) / 10,
        "host_entropy": entropy(p.host) / 4,
        "https": 1.0 if p.scheme == "https" else 0.0,
        "www": 1.0 if p.host.startswith("www.") else 0.0,
        "no_path": 1.0 if p.path in ("", "/") and not p.query else 0.0,
        "label_len": min(len(p.label), 30) / 30,
        "special": min(sum(rest.count(c) for c in "~%=&_"), 10) / 10,
        "ends_php_html": 1.0 if re.search(r"\.(php|html?|aspx?)$", p.path) else 0.0,
        "known_tld": 1.0 if p.suffix else 0.0,
    }
    feats[f"tld:{p.suffix.rsplit('.', 1)[-1]}"] = 1.0
    # Shared hosting and free site builders recur across unrelated phishing pages.
    feats[f"dom:{p.domain}"] = 1.0
    feats |= _shape(p, rest)
    for token in set(_tokens(p.subdomain)):
        feats[f"sub:{token}"] = 1.0
    # Character trigrams, digits folded, generalise across look-alike throwaway names.
    name = re.sub(r"\d", "0", f"^{p.subdomain}.{p.label}$")
    for i in range(len(name) - 2):
        feats[f"c3:{name[i : i + 3]}"] = 1.0
    tail = re.sub(r"\d", "0", p.path[:60].lower())
    for i in range(len(tail) - 2):
        feats[f"p3:{tail[i : i + 3]}"] = 1.0
    for token in set(_tokens(p.path + " " + p.query)):
        if 2 <= len(token) <= 20 and not token.isdigit():
            feats[f"path:{token}"] = 1.0
    return feats


def _shape(p: _Parts, rest: str) -> dict[str, float]:
    """Bucketed counts, so that a linear model can learn that both extremes are odd."""
    words = _tokens(rest)
    host_words = _tokens(p.host)
    counts = {
        "len_url": len(rest) // 15,
        "len_host": len(p.host) // 6,
        "dots": p.host.count("."),
        "slashes": p.path.count("/"),
        "params": p.query.count("&") + (1 if p.query else 0),
        "host_digits": min(sum(c.isdigit() for c in p.host), 6),
        "longest_word": max((len(w) for w in words), default=0) // 5,
        "longest_host_word": max((len(w) for w in host_words), default=0) // 4,
        "sub_labels": len([s for s in p.subdomain.split(".") if s]),
    }
    shape = {f"n:{k}:{min(v, 8)}": 1.0 for k, v in counts.items()}
    shape["n:avg_word"] = min(sum(map(len, words)) / max(1, len(words)), 20) / 20
    shape["n:com_in_path"] = 1.0 if "com" in _tokens(p.path) else 0.0
    shape["n:repeat"] = 1.0 if re.search(r"(.)\1\1", p.host) else 0.0
    return shape


@cache
def _model() -> LinearModel | None:
    try:
        return LinearModel.from_dict(load(MODEL_FILE))
    except FileNotFoundError:
        return None


def analyse_url(url: str) -> UrlVerdict:
    """Phishing probability of a URL from its string alone; never fetches it."""
    found = tuple(signs(url))
    model = _model()
    if model is not None:
        probability = model.probability(features(url))
        threshold = model.threshold
    else:
        probability, threshold = sigmoid(sum(s.weight for s in found) - 2.0), 0.5
    return UrlVerdict(url, probability, probability >= threshold, found)
