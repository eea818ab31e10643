"""Event validation: what the schema accepts, what it refuses, and the field it names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import events as events_module
from protocol.errors import SchemaError
from protocol.events import (
    EVENT_SPECS,
    SERVER_TYPES,
    TERMINAL_TYPES,
    WORKER_TYPES,
    Event,
    from_wire,
    new_event,
    to_wire,
)
from tests.protocol.examples import EXAMPLE_FIELDS, events, example, plain


def wire(type_: str = "log_entry", **changes: Any) -> dict[str, Any]:
    return {**to_wire(example(type_)), **changes}


def refused_field(obj: object) -> str:
    with pytest.raises(SchemaError) as info:
        from_wire(obj)
    return info.value.field


def test_every_type_of_the_design_has_a_hand_written_example() -> None:
    assert set(EXAMPLE_FIELDS) == set(EVENT_SPECS)


@pytest.mark.parametrize("type_", sorted(EVENT_SPECS))
def test_every_type_round_trips_through_the_wire_map(type_: str) -> None:
    event = example(type_)
    assert from_wire(to_wire(event)) == event
    assert to_wire(event)["v"] == 1


def test_origin_and_terminal_sets_match_the_design() -> None:
    assert SERVER_TYPES == {
        "audit_queued",
        "audit_started",
        "ipc_fallback",
        "audit_complete",
        "audit_error",
    }
    assert TERMINAL_TYPES == {"audit_complete", "audit_error"}
    assert "hello" in WORKER_TYPES and not WORKER_TYPES & SERVER_TYPES


def test_unknown_version_is_refused_naming_v() -> None:
    assert refused_field(wire(v=2)) == "v"
    assert refused_field(wire(v=True)) == "v"


def test_unknown_type_is_refused_naming_type() -> None:
    assert refused_field(wire(type="launch_missiles")) == "type"


@pytest.mark.parametrize("key", ["seq", "ts", "agent", "level", "message"])
def test_missing_field_is_refused_naming_it(key: str) -> None:
    obj = wire()
    del obj[key]
    assert refused_field(obj) == key


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seq": "1"}, "seq"),
        ({"seq": True}, "seq"),
        ({"seq": 0}, "seq"),
        ({"seq": -1}, "seq"),
        ({"ts": "now"}, "ts"),
        ({"ts": math.nan}, "ts"),
        ({"level": "loud"}, "level"),
        ({"message": b"bytes"}, "message"),
        ({"agent": None}, "agent"),
    ],
)
def test_mistyped_field_is_refused_naming_it(changes: dict[str, Any], field: str) -> None:
    assert refused_field(wire(**changes)) == field


def test_nested_finding_field_is_named_with_its_path() -> None:
    finding = {**EXAMPLE_FIELDS["finding"]["finding"], "severity": "apocalyptic"}
    assert refused_field(wire("finding", finding=finding)) == "finding.severity"
    del finding["severity"]
    assert refused_field(wire("finding", finding=finding)) == "finding.severity"


def test_bounds_are_enforced() -> None:
    assert refused_field(wire("phase_start", pct=101)) == "pct"
    assert refused_field(wire("site_type", confidence=1.5)) == "confidence"
    result = {**EXAMPLE_FIELDS["audit_result"]["result"], "trust_score": -1}
    assert refused_field(wire("audit_result", result=result)) == "result.trust_score"


def test_worker_events_need_a_positive_seq_and_server_events_accept_zero() -> None:
    assert refused_field(wire("hello", seq=0)) == "seq"
    assert from_wire(wire("audit_started", seq=0)).seq == 0


def test_unknown_extra_keys_are_kept_for_forward_compatibility() -> None:
    event = from_wire(wire(colour="blue", nested={"a": [1, 2.5, None]}, blob=b"\x00"))
    assert event["colour"] == "blue"
    assert event["nested"] == {"a": [1, 2.5, None]}
    assert to_wire(event)["blob"] == b"\x00"


def test_values_that_json_or_msgpack_cannot_carry_are_refused() -> None:
    assert refused_field(wire(extra={1: "int key"})) == "extra"
    assert refused_field(wire(extra=[b"nested bytes"])) == "extra[0]"
    assert refused_field(wire(extra=math.inf)) == "extra"
    assert refused_field(wire(extra=2**64)) == "extra"
    assert refused_field(wire(extra=object())) == "extra"
    assert refused_field(wire(message="lone \ud800 surrogate")) == "message"


def test_nesting_is_bounded() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(SchemaError, match="nested deeper"):
        from_wire(wire(extra=deep))


def test_non_map_is_refused() -> None:
    with pytest.raises(SchemaError, match="must be a map"):
        from_wire([1, 2, 3])


def test_new_event_stamps_the_current_time_when_none_is_given() -> None:
    event = new_event("audit_started", 0, pid=1)
    assert event.ts > 1_600_000_000
    assert event.from_server and not event.terminal
    assert new_event("audit_complete", 0, elapsed=1).terminal


ALL_CHOICES = sorted(
    {c for spec in EVENT_SPECS.values() for f in spec.fields.values() for c in f.choices or ()}
)
odd_values = st.one_of(
    st.sampled_from([*ALL_CHOICES, "bogus", "ünï", "a\ud800b"]),
    st.integers(-5, 105),
    st.floats(-1, 101),
    plain
    | st.sampled_from([math.nan, math.inf, True, 2**64, -(2**63) - 1])
    | st.binary(max_size=4),
)


@settings(max_examples=1000, deadline=None)
@given(events() | st.sampled_from(sorted(EVENT_SPECS)).map(example), st.data())
def test_the_fast_path_agrees_with_the_full_check(event: Event, data: st.DataObject) -> None:
    # Hand-written examples are mostly flat ASCII maps: the shape the fast path accepts.
    wire = to_wire(event)
    for _ in range(data.draw(st.integers(0, 3))):
        key = data.draw(st.sampled_from([*sorted(wire), "extra"]))
        if data.draw(st.booleans()):
            wire.pop(key, None)
        else:
            wire[key] = data.draw(odd_values)
    outcomes: list[object] = []
    for check in (from_wire, events_module._checked):
        try:
            outcomes.append(check(dict(wire)))
        except SchemaError as exc:
            outcomes.append(("refused", exc.field))
    assert outcomes[0] == outcomes[1]
