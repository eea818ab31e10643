"""The one piece of RFC 8941 (structured fields) the COOP and COEP tests need: an Item
that must be a Token, with optional parameters and nothing after them."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?")
_STRING = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"')
_BYTES = re.compile(r":[A-Za-z0-9+/=]*:")
_BOOLEAN = re.compile(r"\?[01]")


def token(value: str) -> str | None:
    """The token of a structured-field Item, or None when the value is not one."""
    text = value.strip(" ")
    head = _TOKEN.match(text)
    if head is None:
        return None
    at = _parameters(text, head.end())
    return head.group() if at == len(text) else None


def _parameters(text: str, at: int) -> int:
    """Where the parameters end; -1 when they are malformed."""
    while at < len(text) and text[at] == ";":
        at += 1
        while at < len(text) and text[at] == " ":
            at += 1
        key = _KEY.match(text, at)
        if key is None:
            return -1
        at = key.end()
        if at < len(text) and text[at] == "=":
            value = _bare_item(text, at + 1)
            if value < 0:
                return -1
            at = value
    return at


def _bare_item(text: str, at: int) -> int:
    for pattern in (_NUMBER, _STRING, _TOKEN, _BYTES, _BOOLEAN):
        found = pattern.match(text, at)
        if found is not None:
            return found.end()
    return -1
