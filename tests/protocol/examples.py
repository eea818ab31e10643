"""One valid event of every type, written by hand, and Hypothesis strategies for any valid event."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from protocol.events import EVENT_SPECS, Event, Field, new_event

FINDING = {
    "id": "f-1",
    "category": "dark_pattern",
    "pattern_type": "fake_scarcity",
    "severity": "medium",
    "confidence": 0.8,
    "description": "Low-stock claim with no stock data behind it",
    "plain_english": "The shop says only 2 are left to rush you.",
    "evidence": "Only 2 left in stock — order now!",
    "url": "https://shop.example/item",
}

EXAMPLE_FIELDS: dict[str, dict[str, Any]] = {
    "hello": {"pid": 4242, "ipc": "pipe", "tier": "quick_scan", "url": "https://a.example/"},
    "phase_start": {"phase": "scout", "label": "Scout", "message": "Fetching pages", "pct": 10},
    "phase_complete": {
        "phase": "scout",
        "label": "Scout",
        "message": "3 pages",
        "pct": 25.5,
        "summary": {"pages": 3, "bytes": 12345, "urls": ["https://a.example/"]},
    },
    "phase_error": {
        "phase": "intel",
        "label": "Intel",
        "message": "failed",
        "pct": 80,
        "error": "DNS timeout",
    },
    "log_entry": {"agent": "scout", "level": "warning", "message": "Slow page\nsecond line"},
    "finding": {"finding": FINDING},
    "security_result": {
        "module": "security_headers",
        "result": {"score": 65, "grade": "C", "findings": [FINDING]},
    },
    "site_type": {"site_type": "ecommerce", "confidence": 0.9},
    "screenshot": {
        "index": 0,
        "label": "entry",
        "url": "https://a.example/",
        "mime": "image/png",
        "data": bytes(range(256)) * 3,
    },
    "stats_update": {"stats": {"pages": 2, "findings": 5}},
    "audit_result": {
        "result": {
            "trust_score": 72,
            "risk_level": "probably_safe",
            "findings": [FINDING],
            "narrative": 'Ünïcødé ✓ and "quotes"',
            "signal_scores": {"security": 80, "content": 60},
            "site_type": None,
        }
    },
    "audit_queued": {
        "audit_id": "abc",
        "url": "https://a.example/",
        "tier": "standard_audit",
        "ipc": "validate",
    },
    "audit_started": {"pid": 99},
    "ipc_fallback": {"reason": "bad frame", "from": "pipe", "to": "stdout"},
    "audit_complete": {"elapsed": 12.5},
    "audit_error": {"error": "worker exited with status 1", "code": "crashed"},
}


def example(type_: str, seq: int | None = None) -> Event:
    if seq is None:
        seq = 0 if EVENT_SPECS[type_].origin == "server" else 7
    return new_event(type_, seq, ts=1_700_000_000.25, **EXAMPLE_FIELDS[type_])


# Text as a peer may send it: any Unicode scalar value (no lone surrogates), newlines included.
text = st.text(st.characters(codec="utf-8"), max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
plain = st.recursive(
    st.none() | st.booleans() | int64 | finite | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def field_value(spec: Field) -> st.SearchStrategy[Any]:
    if spec.choices is not None:
        return st.sampled_from(spec.choices)
    if spec.kind == "str":
        return text
    if spec.kind == "bytes":
        return st.binary(max_size=300)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "int":
        low, high = spec.bounds or (-(2**63), 2**63 - 1)
        return st.integers(min_value=int(low), max_value=int(high))
    if spec.kind == "number":
        low, high = spec.bounds or (-1e300, 1e300)
        return st.integers(int(low), int(min(high, 2**53))) | st.floats(
            low, high, allow_nan=False, allow_infinity=False
        )
    if spec.kind == "list":
        return st.lists(plain, max_size=3)
    required = st.fixed_dictionaries({k: field_value(f) for k, f in (spec.required or {}).items()})
    extra = st.dictionaries(text, plain, max_size=3)
    return st.builds(lambda e, r: {**e, **r}, extra, required)


@st.composite
def events(draw: st.DrawFn) -> Event:
    type_ = draw(st.sampled_from(sorted(EVENT_SPECS)))
    spec = EVENT_SPECS[type_]
    fields = {name: draw(field_value(f)) for name, f in spec.fields.items()}
    reserved = {"v", "type", "seq", "ts", *fields, *(f"{n}_b64" for n in spec.fields)}
    extra_key = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
    extra = draw(st.dictionaries(extra_key.filter(lambda k: k not in reserved), plain, max_size=2))
    seq = 0 if spec.origin == "server" else draw(st.integers(1, 2**40))
    ts = draw(st.floats(0, 4e9, allow_nan=False))
    return new_event(type_, seq, ts=ts, **extra, **fields)
