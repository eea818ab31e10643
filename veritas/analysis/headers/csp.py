"""Content Security Policy, parsed and judged as the Observatory parses and judges it.

Every policy counts: each `Content-Security-Policy` header (split on commas, since a
repeated header arrives comma-joined) and each `<meta http-equiv>` policy. Several policies
are combined the way browsers enforce them, all at once: a source survives only if every
policy that sets the directive allows it, and a directive set by a later policy alone ends
up as 'none'. `frame-ancestors`, `report-uri` and `sandbox` are ignored in `<meta>` policies
when deciding whether a policy exists at all, as browsers ignore them there.

A policy shorter than the shortest directive, a directive repeated within one policy (other
than report-uri/report-to) or a malformed %-escape make the whole thing unparseable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from urllib.parse import unquote_to_bytes

from veritas.analysis.headers.exchange import CSP, Exchange
from veritas.analysis.headers.outcome import TestOutcome, outcome

NAME = "content-security-policy"
BROAD = frozenset(
    ("ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*")
)
BROAD_OR_INLINE = BROAD | {"'unsafe-inline'", "data:"}
PASSIVE = ("img-src", "media-src")
NONCES_AND_HASHES = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
SHORTEST_POLICY = len("img-src") - 1
NOT_IN_META = ("frame-ancestors", "report-uri", "sandbox")
REPEATABLE = frozenset(("report-uri", "report-to"))
_PASSING = frozenset(
    (
        "csp-implemented-with-no-unsafe",
        "csp-implemented-with-no-unsafe-default-src-none",
        "csp-implemented-with-unsafe-inline-in-style-src-only",
        "csp-implemented-with-insecure-scheme-in-passive-content-only",
    )
)

Directives = dict[str, set[str]]


class PolicyError(ValueError):
    """The policy list cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Policy:
    directives: Directives
    repeated: bool = False  # report-uri or report-to given twice in one policy

    @property
    def size(self) -> int:
        return len(self.directives) + self.repeated


@dataclass(slots=True)
class _Source:
    text: str
    policy: int
    keep: bool


@dataclass(frozen=True, slots=True)
class CspVerdict:
    outcome: TestOutcome
    directives: Directives | None = field(default=None)  # None unless a policy was judged


def split_policies(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",")]


def parse(policies: list[str]) -> Policy:
    """The combined policy of a list of policies; raises PolicyError."""
    cleaned = [re.sub(r"[\r\n]", "", p).strip() for p in policies]
    for policy in cleaned:
        if len(policy) < SHORTEST_POLICY:
            raise PolicyError(f"policy too short: {policy!r}")
    store: dict[str, list[_Source]] = {}
    repeated = False
    for index, policy in enumerate(cleaned):
        seen: set[str] = set()
        for entry in policy.split(";"):
            tokens = entry.split()
            if not tokens:
                continue
            directive = tokens[0].lower()
            if directive in seen and directive not in REPEATABLE:
                raise PolicyError(f"directive {directive} repeated in policy {index}")
            repeated |= directive in seen
            seen.add(directive)
            store[directive] = _merge(store.get(directive, []), directive, tokens[1:], index)
            if index == 0 and len(cleaned) > 1:
                # Later policies must each confirm a source for it to survive.
                for source in store[directive]:
                    source.keep = False
    return Policy({d: {s.text for s in kept} or {"'none'"} for d, kept in store.items()}, repeated)


def _merge(before: list[_Source], directive: str, values: list[str], index: int) -> list[_Source]:
    keep = index == 0
    sources = [_Source(v.lower(), index, keep) for v in values]
    if not sources and directive.endswith("-src"):
        sources = [_Source("'none'", index, keep)]
    combined = sorted(sources if index == 0 else [*before, *sources], key=_collation)
    for prev, source in pairwise(combined):
        if source.policy == prev.policy and source.text.startswith(prev.text):
            source.keep = False  # https://a.example/x adds nothing to https://a.example/
        if source.policy != prev.policy and _path_match(prev.text, source.text):
            source.keep = True
    return [s for s in combined if s.keep]


def _path_match(a: str, b: str) -> bool:
    if a == "" or (a == "/" and b == ""):
        return True
    exact = not a.endswith("/")
    parts_a, parts_b = a.split("/"), b.split("/")
    if len(parts_a) > len(parts_b) or (exact and len(parts_a) != len(parts_b)):
        return False
    if not exact:
        parts_a.pop()
    return all(_decode(x) == _decode(y) for x, y in zip(parts_a, parts_b, strict=False))


def _decode(part: str) -> str:
    if re.search(r"%(?![0-9A-Fa-f]{2})", part):
        raise PolicyError(f"malformed escape in {part!r}")
    try:
        return unquote_to_bytes(part).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"malformed escape in {part!r}") from exc


# The order Intl.Collator("en") gives ASCII text: punctuation, then digits, then letters.
_PUNCTUATION = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_WEIGHT = {c: i + 1 for i, c in enumerate(" \t" + _PUNCTUATION + "0123456789")}


def _collation(source: _Source) -> tuple[int, ...]:
    base = len(_WEIGHT) + 1
    return tuple(
        _WEIGHT.get(c, base + (ord(c) - ord("a") if "a" <= c <= "z" else 26 + ord(c)))
        for c in source.text
    )


def _has_nonce_or_hash(sources: set[str]) -> bool:
    return any(s.startswith(NONCES_AND_HASHES) for s in sources)


def _safe_parse(policies: list[str], drop: tuple[str, ...] = ()) -> Policy:
    try:
        policy = parse(policies)
    except PolicyError:
        return Policy({})
    for directive in drop:
        policy.directives.pop(directive, None)
    return policy


def judge(exchange: Exchange) -> CspVerdict:
    header = exchange.header(CSP)
    header_policies = split_policies([header] if header is not None else [])
    meta_policies = split_policies(exchange.equiv.get(CSP, []))
    evidence = header if header is not None else "; ".join(meta_policies)
    try:
        combined = parse(header_policies + meta_policies)
    except PolicyError:
        return CspVerdict(outcome(NAME, "csp-header-invalid", False, evidence))
    header_only = _safe_parse(header_policies)
    meta_only = _safe_parse(meta_policies, NOT_IN_META)
    if header_only.size + meta_only.size == 0:
        report_only = exchange.header("content-security-policy-report-only")
        reporting = "csp-not-implemented-but-reporting-enabled"
        return CspVerdict(outcome(NAME, reporting if report_only else "csp-not-implemented", False))
    result = _result(combined.directives, exchange.secure)
    passed = result in _PASSING
    if passed and combined.repeated:
        result = "csp-implemented-but-duplicate-directives"
    return CspVerdict(outcome(NAME, result, passed, evidence), combined.directives)


def _result(csp: Directives, secure: bool) -> str:
    """The first problem found, in the Observatory's order of severity."""
    default = csp.get("default-src")
    script = csp.get("script-src") or default or {"*"}
    objects = csp.get("object-src") or default or {"*"}
    style = csp.get("style-src") or default or {"*"}
    found: list[str] = []
    for sources in (script, style):
        if _has_nonce_or_hash(sources):
            sources.discard("'unsafe-inline'")  # browsers ignore it next to a nonce or hash
    if "'strict-dynamic'" in script:
        if not _has_nonce_or_hash(script):
            found.append("csp-header-invalid")
        else:
            for source in [s for s in script if s.startswith(tuple(BROAD))]:
                script.discard(source)
            script.difference_update(("'self'", "'unsafe-inline'"))
    active = [s for d, v in csp.items() if d not in PASSIVE and d != "script-src" for s in v]
    active += script
    passive = [s for d in PASSIVE for s in (csp.get(d) or default or set())]
    if any(s in BROAD_OR_INLINE for s in script) or any(s in BROAD for s in objects):
        found.append("csp-implemented-with-unsafe-inline")
    if secure and any(s.startswith(("http:", "ftp:")) for s in active):
        found.append("csp-implemented-with-insecure-scheme")
    if "'unsafe-eval'" in script | style:
        found.append("csp-implemented-with-unsafe-eval")
    if secure and any(s.startswith(("http:", "ftp:")) for s in passive):
        found.append("csp-implemented-with-insecure-scheme-in-passive-content-only")
    if any(s in BROAD_OR_INLINE for s in style):
        found.append("csp-implemented-with-unsafe-inline-in-style-src-only")
    if default == {"'none'"}:
        found.append("csp-implemented-with-no-unsafe-default-src-none")
    found.append("csp-implemented-with-no-unsafe")
    return found[0]
