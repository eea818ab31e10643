"""Events of protocol v1: their types, their fields, and validation at the wire boundary.

An event on the wire is a flat map: the common keys `v`, `type`, `seq`, `ts`, then the
fields of its type. In memory it is an `Event`, built only through `new_event` or
`from_wire`, so every `Event` that exists has passed validation. Keys a newer peer adds
are kept untouched (forward compatibility); missing or mistyped known fields are refused
with a `SchemaError` naming the field.

Worker events carry `seq` 1, 2, 3 ... in emission order. Events the server adds to an
audit's stream carry `seq` 0: they have no place in the worker's numbering, and readers
order a stream by its log position (the SSE id), never by `seq`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final, Literal

import orjson

from protocol.errors import SchemaError

PROTOCOL_VERSION: Final = 1
COMMON_KEYS: Final = frozenset({"v", "type", "seq", "ts"})

IPC_MODES: Final = ("pipe", "stdout", "validate")
TIERS: Final = ("quick_scan", "standard_audit", "deep_forensic")
VERDICT_MODES: Final = ("simple", "expert")
# The auditor's security modules, by name: what a request may ask for (`security_modules`).
SECURITY_MODULES: Final = (
    "security_headers",
    "tls",
    "redirect_chain",
    "form_validation",
    "js_analysis",
    "phishing",
)
PHASES: Final = ("init", "scout", "security", "content", "intel", "judge")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
ERROR_CODES: Final = (
    "crashed",
    "timeout",
    "cancelled",
    "no_result",
    "interrupted",
    "spawn_failed",
)

Kind = Literal["str", "int", "number", "bool", "map", "list", "bytes"]
Origin = Literal["worker", "server"]

# Deeper values are refused: nothing legitimate nests this far, and recursion must stay bounded.
MAX_DEPTH: Final = 32
_INT64 = 2**63


@dataclass(frozen=True, slots=True)
class Field:
    kind: Kind
    choices: tuple[str, ...] | None = None
    bounds: tuple[float, float] | None = None
    required: Mapping[str, Field] | None = None  # keys a map must hold


@dataclass(frozen=True, slots=True)
class EventSpec:
    fields: Mapping[str, Field]
    origin: Origin
    terminal: bool = False

    @property
    def bytes_fields(self) -> frozenset[str]:
        return frozenset(name for name, f in self.fields.items() if f.kind == "bytes")


_STR = Field("str")
_INT = Field("int")
_MAP = Field("map")
_PCT = Field("number", bounds=(0, 100))
_UNIT = Field("number", bounds=(0, 1))
_SCORE = Field("int", bounds=(0, 100))

_PHASE = {
    "phase": Field("str", choices=PHASES),
    "label": _STR,
    "message": _STR,
    "pct": _PCT,
}
FINDING_FIELDS: Final[Mapping[str, Field]] = {
    "id": _STR,
    "category": _STR,
    "pattern_type": _STR,
    "severity": Field("str", choices=SEVERITIES),
    "confidence": _UNIT,
    "description": _STR,
    "plain_english": _STR,
    "evidence": _STR,
    "url": _STR,
}

EVENT_SPECS: Final[Mapping[str, EventSpec]] = {
    # worker events
    "hello": EventSpec(
        {
            "pid": _INT,
            "ipc": Field("str", choices=IPC_MODES),
            "tier": Field("str", choices=TIERS),
            "url": _STR,
        },
        "worker",
    ),
    "phase_start": EventSpec(_PHASE, "worker"),
    "phase_complete": EventSpec({**_PHASE, "summary": _MAP}, "worker"),
    "phase_error": EventSpec({**_PHASE, "error": _STR}, "worker"),
    "log_entry": EventSpec(
        {"agent": _STR, "level": Field("str", choices=LOG_LEVELS), "message": _STR}, "worker"
    ),
    "finding": EventSpec({"finding": Field("map", required=FINDING_FIELDS)}, "worker"),
    "security_result": EventSpec(
        {
            "module": _STR,
            "result": Field("map", required={"score": _SCORE, "findings": Field("list")}),
        },
        "worker",
    ),
    "site_type": EventSpec({"site_type": _STR, "confidence": _UNIT}, "worker"),
    "screenshot": EventSpec(
        {
            "index": _INT,
            "label": _STR,
            "url": _STR,
            "mime": _STR,
            "data": Field("bytes"),
        },
        "worker",
    ),
    "stats_update": EventSpec({"stats": _MAP}, "worker"),
    "audit_result": EventSpec(
        {
            "result": Field(
                "map",
                required={"trust_score": _SCORE, "risk_level": _STR, "findings": Field("list")},
            )
        },
        "worker",
    ),
    # server events
    "audit_queued": EventSpec(
        {
            "audit_id": _STR,
            "url": _STR,
            "tier": Field("str", choices=TIERS),
            "ipc": Field("str", choices=IPC_MODES),
        },
        "server",
    ),
    "audit_started": EventSpec({"pid": _INT}, "server"),
    "ipc_fallback": EventSpec({"reason": _STR, "from": _STR, "to": _STR}, "server"),
    "audit_complete": EventSpec({"elapsed": Field("number", bounds=(0, math.inf))}, "server", True),
    "audit_error": EventSpec(
        {"error": _STR, "code": Field("str", choices=ERROR_CODES)}, "server", True
    ),
}

WORKER_TYPES: Final = frozenset(t for t, s in EVENT_SPECS.items() if s.origin == "worker")
SERVER_TYPES: Final = frozenset(t for t, s in EVENT_SPECS.items() if s.origin == "server")
TERMINAL_TYPES: Final = frozenset(t for t, s in EVENT_SPECS.items() if s.terminal)


class Event:
    """One validated event. `fields` holds the type's fields and any unknown extra keys.

    Immutable. `json` is the event's JSON text (`jsonlines.to_json`) when the reader's fast
    path made it along with the event; such an event's `fields` are decoded from that text
    the first time someone asks (most events are only ever written out, and building their
    values cost the reader more than the rest of its work on them).
    """

    __slots__ = ("_fields", "json", "seq", "ts", "type")
    __match_args__ = ("type", "seq", "ts", "fields")
    type: str
    seq: int
    ts: float
    json: str | None
    _fields: Mapping[str, Any] | None

    def __init__(self, type: str, seq: int, ts: float, fields: Mapping[str, Any]) -> None:
        _set_type(self, type)
        _set_seq(self, seq)
        _set_ts(self, ts)
        _set_fields(self, fields)
        _set_json(self, None)

    @property
    def fields(self) -> Mapping[str, Any]:
        fields = self._fields
        if fields is None:
            fields = _fields_of(self.json or "{}")
            _set_fields(self, fields)
        return fields

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"an Event is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"an Event is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Event:
            return NotImplemented
        assert isinstance(other, Event)
        return (self.type, self.seq, self.ts, self.fields) == (
            other.type,
            other.seq,
            other.ts,
            other.fields,
        )

    __hash__ = None  # type: ignore[assignment]  # equal events may hold unhashable maps

    def __reduce__(self) -> tuple[Any, tuple[str, int, float, Mapping[str, Any]]]:
        return (Event, (self.type, self.seq, self.ts, self.fields))  # copy, pickle

    def __repr__(self) -> str:
        return (
            f"Event(type={self.type!r}, seq={self.seq!r}, ts={self.ts!r}, fields={self.fields!r})"
        )

    @property
    def v(self) -> int:
        return PROTOCOL_VERSION

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    @property
    def from_server(self) -> bool:
        return self.type in SERVER_TYPES

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


_TYPE, _SEQ = attrgetter("type"), attrgetter("seq")


def types_of(events: Iterable[Event]) -> list[str]:
    """Each event's type: one pass in C, not a step of Python per event (a flood's read
    holds thousands)."""
    return list(map(_TYPE, events))


def seqs_of(events: Iterable[Event]) -> list[int]:
    """Each event's seq, as `types_of`."""
    return list(map(_SEQ, events))


# The slots' own descriptors set them: a call of each is cheaper than `object.__setattr__`
# by name, which a flood notices, and the class's own `__setattr__` refuses.
_set_type, _set_seq, _set_ts, _set_fields, _set_json = (
    vars(Event)[name].__set__ for name in ("type", "seq", "ts", "_fields", "json")
)


def _fields_of(text: str) -> dict[str, Any]:
    """The fields of an event from its JSON text (what the fast path wrote: compact JSON of
    plain values, which reads back as the very values it was written from)."""
    fields: dict[str, Any] = orjson.loads(text)
    for key in COMMON_KEYS:
        fields.pop(key, None)
    return fields


def new_event(type_: str, seq: int, /, ts: float | None = None, **fields: Any) -> Event:
    """Build and validate an event; `ts` defaults to now."""
    wire = {
        "v": PROTOCOL_VERSION,
        "type": type_,
        "seq": seq,
        "ts": time.time() if ts is None else ts,
    }
    return from_wire({**wire, **fields})


def to_wire(event: Event) -> dict[str, Any]:
    """The flat map that goes on the wire (msgpack, or JSON after `jsonlines.to_json_map`)."""
    return {
        "v": PROTOCOL_VERSION,
        "type": event.type,
        "seq": event.seq,
        "ts": event.ts,
        **event.fields,
    }


def from_wire(obj: object) -> Event:
    """Validate a decoded map and return the event it describes."""
    if type(obj) is dict:
        type_ = obj.get("type")
        quick = _QUICK.get(type_) if type(type_) is str else None
        if quick is not None and quick(obj):
            fields = obj.copy()
            del fields["v"], fields["type"], fields["seq"], fields["ts"]
            return _valid_event(obj["type"], obj["seq"], float(obj["ts"]), fields)
    return _checked(obj)


_new_event_object: Final = object.__new__


def _valid_event(type_: str, seq: int, ts: float, fields: dict[str, Any]) -> Event:
    """`Event(type_, seq, ts, fields)` for values that have just passed validation."""
    event: Event = _new_event_object(Event)
    _set_type(event, type_)
    _set_seq(event, seq)
    _set_ts(event, ts)
    _set_fields(event, fields)
    _set_json(event, None)
    return event


def _checked(obj: object) -> Event:
    """The full validation, which names the first bad field; the reference for `_QUICK`."""
    if not isinstance(obj, Mapping):
        raise SchemaError("", f"an event must be a map, not {type(obj).__name__}")
    version = obj.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise SchemaError("v", f"unsupported protocol version {version!r} (expected 1)")
    type_ = obj.get("type")
    spec = EVENT_SPECS.get(type_) if isinstance(type_, str) else None
    if spec is None or not isinstance(type_, str):
        raise SchemaError("type", f"unknown event type {type_!r}")
    seq = _check_int(obj.get("seq"), "seq")
    if seq < 0 or (spec.origin == "worker" and seq == 0):
        raise SchemaError(
            "seq", f"must be >= 1 for worker events and 0 for server events, got {seq}"
        )
    ts = _check_number(obj.get("ts"), "ts")
    fields = {k: v for k, v in obj.items() if k not in COMMON_KEYS}
    for key in fields:
        if not isinstance(key, str):
            raise SchemaError(repr(key), "keys must be strings")
    _check_fields(fields, spec.fields, "")
    for key, value in fields.items():
        if key not in spec.fields:
            _check_plain(value, key, 0, bytes_ok=True)
    return Event(type_, seq, float(ts), fields)


# The fast path. Readers validate every event they receive (hundreds of thousands a second
# in a flood), and nearly all of them are maps of ASCII strings and small numbers, at most
# one level deep. `_QUICK[type]` accepts exactly those with cheap exact-type tests and
# sends everything else (deeper nesting, non-ASCII text, anything wrong) to `_checked`, so
# it can only be stricter than the full check, never looser (tests/protocol compares them).
# Each type's test is generated once, at import, as one flat function: a call per field
# (closures, lambdas) cost more than the tests themselves, and this is the reader's
# largest step per event after msgpack.
Quick = Callable[[dict[Any, Any]], bool]
_MISSING: Final = object()


def _scalar(value: Any) -> bool:
    """A value both codecs carry as it is: None, bool, 64-bit int, finite float, ASCII text."""
    kind = type(value)
    if kind is str:
        return bool(value.isascii())
    if kind is int:
        return bool(-_INT64 <= value < _INT64)
    if kind is float:
        return math.isfinite(value)
    return value is None or kind is bool


def _scalar_map(value: Any) -> bool:
    """A map of ASCII keys to `_scalar` values (the tests of `_scalar` inlined: hot loop)."""
    if type(value) is not dict:
        return False
    for k, v in value.items():
        if type(k) is not str or not k.isascii():
            return False
        kind = type(v)
        if kind is str:
            if not v.isascii():
                return False
        elif kind is int:
            if not -_INT64 <= v < _INT64:
                return False
        elif kind is float:
            if not math.isfinite(v):
                return False
        elif v is not None and kind is not bool:
            return False
    return True


def _scalar_list(value: Any) -> bool:
    return type(value) is list and all(_scalar(v) for v in value)


def _plain_extras(obj: dict[Any, Any], known: frozenset[str]) -> bool:
    return all(
        type(k) is str and (_scalar(v) or type(v) is bytes)
        for k, v in obj.items()
        if k not in known
    )


class _QuickSource:
    """The source of one type's quick test; constants are passed by name, never as text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "isfinite": math.isfinite,
            "I64": _INT64,
            "M": _MISSING,
            "scalar_map": _scalar_map,
            "scalar_list": _scalar_list,
            "plain_extras": _plain_extras,
        }

    def const(self, value: object) -> str:
        name = f"K{len(self.names)}"
        self.names[name] = value
        return name

    def add(self, depth: int, line: str) -> None:
        self.lines.append(" " * depth + line)

    def field(self, getter: str, name: str, spec: Field, depth: int) -> None:
        self.add(depth, f"v = {getter}({name!r}, M)")
        low, high = (self.const(b) for b in spec.bounds or (-_INT64, _INT64 - 1))
        if spec.kind == "number":
            self.add(depth, "if type(v) is float:")
            self.add(depth + 1, f"if not (isfinite(v) and {low} <= v <= {high}): return False")
            self.add(depth, f"elif type(v) is not int or not {low} <= v <= {high}: return False")
            self.add(depth, "elif not -I64 <= v < I64: return False")
            return
        if spec.kind == "map":
            self.add(depth, "if not scalar_map(v): return False")
            self.add(depth, f"m{depth} = v.get")
            for inner, inner_spec in (spec.required or {}).items():
                self.field(f"m{depth}", inner, inner_spec, depth)
            return
        tests = {
            "str": "type(v) is not str or not v.isascii()",
            "int": f"type(v) is not int or not {low} <= v <= {high} or not -I64 <= v < I64",
            "bool": "type(v) is not bool",
            "bytes": "type(v) is not bytes",
            "list": "not scalar_list(v)",
        }
        test = tests[spec.kind]
        if spec.kind == "str" and spec.choices is not None:
            test = f"type(v) is not str or v not in {self.const(frozenset(spec.choices))}"
        self.add(depth, f"if {test}: return False")


def _quick(spec: EventSpec) -> Quick:
    source = _QuickSource()
    min_seq = 1 if spec.origin == "worker" else 0
    known = source.const(COMMON_KEYS | frozenset(spec.fields))
    source.add(0, "def quick(o):")
    source.add(1, "g = o.get")
    source.add(1, "v = g('v', M)")
    source.add(1, f"if type(v) is not int or v != {PROTOCOL_VERSION}: return False")
    source.add(1, "v = g('seq', M)")
    source.add(1, f"if type(v) is not int or not {min_seq} <= v < I64: return False")
    source.add(1, "v = g('ts', M)")
    source.add(1, "if type(v) is float:")
    source.add(2, "if not isfinite(v): return False")
    source.add(1, "elif type(v) is not int or not abs(v) < I64: return False")
    for name, field in spec.fields.items():
        source.field("g", name, field, 1)
    # All known keys are present by now, so a longer map holds extra keys.
    source.add(1, f"return len(o) == {4 + len(spec.fields)} or plain_extras(o, {known})")
    exec("\n".join(source.lines), source.names)  # our own text, built above from the specs
    quick: Quick = source.names["quick"]
    return quick


_QUICK: Final = {type_: _quick(spec) for type_, spec in EVENT_SPECS.items()}

# The same tests as a table for the reader's C fast path (protocol/_fastpath.c): per type
# (its name, the lowest seq, its fields), per field (name, kind, choices, low, high, the
# fields a map requires). Kinds are numbered in the order of `Kind`.
FastField = tuple[str, int, frozenset[str] | None, float, float, "tuple[FastField, ...] | None"]
_KIND_CODES: Final = ("str", "int", "number", "bool", "map", "list", "bytes")


def fast_specs() -> dict[str, tuple[str, int, tuple[FastField, ...]]]:
    """The table `_fastpath.configure` takes: `_QUICK`'s tests, as data."""
    return {
        type_: (type_, 1 if spec.origin == "worker" else 0, _fast_fields(spec.fields))
        for type_, spec in EVENT_SPECS.items()
    }


def _fast_fields(fields: Mapping[str, Field]) -> tuple[FastField, ...]:
    return tuple(
        (
            name,
            _KIND_CODES.index(spec.kind),
            None if spec.choices is None else frozenset(spec.choices),
            *(spec.bounds or (-_INT64, _INT64 - 1)),
            None if spec.required is None else _fast_fields(spec.required),
        )
        for name, spec in fields.items()
    )


def _check_fields(values: Mapping[str, Any], specs: Mapping[str, Field], prefix: str) -> None:
    for name, spec in specs.items():
        path = prefix + name
        if name not in values:
            raise SchemaError(path, "missing")
        _check_field(values[name], spec, path)


def _check_field(value: Any, spec: Field, path: str) -> None:
    if spec.kind == "bytes":
        if not isinstance(value, bytes):
            raise SchemaError(path, f"expected bytes, got {type(value).__name__}")
        return
    if spec.kind == "str":
        _check_str(value, path)
        if spec.choices is not None and value not in spec.choices:
            raise SchemaError(path, f"{value!r} is not one of {', '.join(spec.choices)}")
        return
    if spec.kind in ("int", "number"):
        number = _check_int(value, path) if spec.kind == "int" else _check_number(value, path)
        if spec.bounds is not None and not spec.bounds[0] <= number <= spec.bounds[1]:
            raise SchemaError(path, f"{number} is outside {spec.bounds[0]}..{spec.bounds[1]}")
        return
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected a boolean, got {type(value).__name__}")
        return
    expected = dict if spec.kind == "map" else list
    if not isinstance(value, expected):
        raise SchemaError(path, f"expected a {spec.kind}, got {type(value).__name__}")
    if spec.required is not None and isinstance(value, dict):
        _check_fields(value, spec.required, path + ".")
    _check_plain(value, path, 0, bytes_ok=False)


def _check_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(path, f"expected an integer, got {type(value).__name__}")
    if not -_INT64 <= value < _INT64:
        raise SchemaError(path, "integer out of the 64-bit range")
    return value


def _check_number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(path, f"expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(path, "must be a finite number")
    if isinstance(value, int):
        _check_int(value, path)
    return value


def _check_str(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise SchemaError(path, f"expected a string, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SchemaError(path, "string is not valid Unicode (lone surrogate)") from None


def _check_plain(value: Any, path: str, depth: int, *, bytes_ok: bool) -> None:
    """Values must survive both msgpack and JSON: plain data, string keys, bounded depth."""
    if depth > MAX_DEPTH:
        raise SchemaError(path, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int | float):
        _check_number(value, path)
    elif isinstance(value, str):
        _check_str(value, path)
    elif isinstance(value, bytes):
        if not bytes_ok:
            raise SchemaError(path, "bytes are allowed only as top-level fields")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]", depth + 1, bytes_ok=False)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SchemaError(path, f"map keys must be strings, got {type(key).__name__}")
            _check_plain(item, f"{path}.{key}", depth + 1, bytes_ok=False)
    else:
        raise SchemaError(path, f"unsupported value of type {type(value).__name__}")
