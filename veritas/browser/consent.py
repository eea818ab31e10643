"""Consent banners and visual interference, from what `probes.READ_CONSENT` measured.

    no refusal on the first layer      consent_no_reject       medium
    refusal far smaller or fainter     consent_interference    medium
    purposes ticked in advance         consent_preticked       medium
    cookies set before any choice      cookies_before_consent  low

"Far" is measured, not guessed: the refusal's area under half the acceptance's, its font
under 80 % of it, or a text contrast (WCAG formula, from computed colours) under 3:1
while acceptance has at least 4.5:1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

from veritas.finding import Finding

ACCEPT: Final = re.compile(r"\b(accept|agree|allow|ok|okay|got it|i understand|consent)\b", re.I)
REFUSE: Final = re.compile(
    r"\b(reject|decline|refuse|deny|disagree|no,? thanks)\b|\b(only|strictly) (necessary|"
    r"essential)\b|\b(necessary|essential)( cookies)? only\b",
    re.I,
)
NECESSARY: Final = re.compile(r"necessary|essential|required|strictly", re.I)
_RGB: Final = re.compile(r"rgba?\(([^)]*)\)")
AREA_RATIO: Final = 0.5
FONT_RATIO: Final = 0.8
FAINT: Final = 3.0
CLEAR: Final = 4.5

_PLAIN = "The cookie banner makes saying no harder than saying yes."


def _finding(kind: str, severity: str, description: str, evidence: str, url: str) -> Finding:
    return Finding("dark_pattern", kind, severity, 0.8, description, _PLAIN, evidence, url)  # type: ignore[arg-type]


def consent_findings(
    banner: dict[str, Any] | None, cookies: Sequence[str], url: str
) -> Iterator[Finding]:
    if banner is None:
        return
    buttons = banner.get("buttons") or []
    accept = [b for b in buttons if ACCEPT.search(b["text"]) and not REFUSE.search(b["text"])]
    refuse = [b for b in buttons if REFUSE.search(b["text"])]
    where = f"consent banner \u201c{banner.get('text', '')[:120]}\u201d"
    if accept and not refuse:
        names = ", ".join(repr(b["text"]) for b in buttons)
        yield _finding("consent_no_reject", "medium",
                       f"Obstruction: the {where} offers no refusal on its first layer.",
                       f"buttons: {names}", url)  # fmt: skip
    elif accept and refuse:
        weaker = _interference(accept[0], refuse[0])
        if weaker:
            yield _finding("consent_interference", "medium",
                           f"Misdirection: in the {where} refusal is visually weaker than "
                           f"acceptance ({'; '.join(weaker)}).",
                           f"accept {accept[0]['text']!r} vs refuse {refuse[0]['text']!r}: "
                           + "; ".join(weaker), url)  # fmt: skip
    ticked = [b["label"] for b in banner.get("boxes") or [] if b["checked"] and not b["disabled"]]
    ticked = [label for label in ticked if not NECESSARY.search(label)]
    if ticked:
        yield _finding("consent_preticked", "medium",
                       f"Sneaking: the {where} has purposes ticked in advance.",
                       "pre-ticked: " + ", ".join(repr(t) for t in ticked[:10]), url)  # fmt: skip
    if cookies:
        yield _finding("cookies_before_consent", "low",
                       f"Cookies were set before any choice in the {where}.",
                       "cookies: " + ", ".join(sorted(cookies)[:20]), url)  # fmt: skip


def _interference(accept: dict[str, Any], refuse: dict[str, Any]) -> list[str]:
    weaker = []
    if accept["area"] > 0 and refuse["area"] < AREA_RATIO * accept["area"]:
        weaker.append(f"area {refuse['area']:.0f} px\u00b2 vs {accept['area']:.0f} px\u00b2")
    if accept["font"] > 0 and refuse["font"] < FONT_RATIO * accept["font"]:
        weaker.append(f"font {refuse['font']:g} px vs {accept['font']:g} px")
    faint, clear = contrast_of(refuse), contrast_of(accept)
    if faint < FAINT <= CLEAR <= clear:
        weaker.append(f"contrast {faint:.1f}:1 vs {clear:.1f}:1")
    return weaker


def contrast_of(button: dict[str, Any]) -> float:
    """The WCAG contrast ratio of a button's text on its background, opacity applied."""
    back = _rgba(button["background"])[:3]
    fore = _over(_rgba(button["color"]), back, float(button.get("opacity", 1.0)))
    return contrast(fore, back)


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rgba(text: str) -> tuple[float, float, float, float]:
    match = _RGB.search(text or "")
    if match is None:
        return (0.0, 0.0, 0.0, 1.0)
    parts = [float(p) for p in re.split(r"[,\s/]+", match.group(1).strip()) if p]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)  # type: ignore[return-value]


def _over(
    color: tuple[float, float, float, float], back: tuple[float, ...], opacity: float
) -> tuple[float, float, float]:
    alpha = color[3] * opacity
    r, g, b = (alpha * c + (1 - alpha) * k for c, k in zip(color[:3], back, strict=True))
    return (r, g, b)


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
