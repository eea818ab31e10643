"""`HOST:PORT:ADDR:PORT` rules, as curl's --connect-to: parsed, matched, printed back."""

from __future__ import annotations

import pytest

from protocol.errors import TargetError
from protocol.targets import ConnectTo, parse_connect_to


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("shop.example.com:443:127.0.0.1:8443",
         ConnectTo("shop.example.com", 443, "127.0.0.1", 8443)),
        ("Shop.Example.COM.:443:10.0.0.5:", ConnectTo("shop.example.com", 443, "10.0.0.5", None)),
        ("::[::1]:8080", ConnectTo("", None, "::1", 8080)),
        ("a.test:80:backend.internal:81", ConnectTo("a.test", 80, "backend.internal", 81)),
        ("b\u00fccher.example:443:0x7f.1:443",
         ConnectTo("xn--bcher-kva.example", 443, "127.0.0.1", 443)),
    ],
)  # fmt: skip
def test_rules_parse_to_canonical_hosts_and_ports(text: str, rule: ConnectTo) -> None:
    assert parse_connect_to(text) == rule
    assert parse_connect_to(str(rule)) == rule


@pytest.mark.parametrize(
    "text",
    ["a:1:b", "a:1:b:2:3", "a:1::2", "a:0:b:2", "a:1:b:65536", "a:x:b:2", "[::1]:1:b:2",
     "127.0.0.1:1:b:2", "a:1:[::1:2", "a :1:b:2", "a:1:b:\u0662", "x" * 700],
)  # fmt: skip
def test_malformed_rules_are_target_errors(text: str) -> None:
    with pytest.raises(TargetError):
        parse_connect_to(text)


def test_a_rule_matches_its_host_and_port_or_any() -> None:
    rule = parse_connect_to("shop.example.com:443:127.0.0.1:8443")
    assert rule.matches("SHOP.example.com.", 443)
    assert not rule.matches("shop.example.com", 80)
    assert not rule.matches("other.example.com", 443)
    anything = parse_connect_to("::127.0.0.1:")
    assert anything.matches("any.example", 1) and anything.to_port is None
