"""Dark patterns in page text and DOM, by the taxonomy of Mathur et al. (CSCW 2019).

One detector classifies a piece of visible text: hand-written rules for the phrasings the
taxonomy describes, fed with the words themselves into a logistic regression whose weights
`scripts/train_models.py` fits. The content phase runs it on every text segment of a page;
`python -m veritas.eval darkpatterns` runs the very same `detect` on labelled texts.
DOM checks add what text alone cannot show: pre-ticked paid add-ons and countdown scripts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from veritas.analysis import html
from veritas.analysis.model import LinearModel, load
from veritas.finding import Finding, Severity
from veritas.page import Page

MODEL_FILE = "darkpattern_model.json"
CATEGORIES = (
    "Scarcity", "Urgency", "Social Proof", "Misdirection", "Sneaking", "Obstruction",
    "Forced Action",
)  # fmt: skip
_SEVERITY: Mapping[str, Severity] = {
    "Scarcity": "low",
    "Urgency": "low",
    "Social Proof": "low",
    "Misdirection": "medium",
    "Sneaking": "high",
    "Obstruction": "medium",
    "Forced Action": "medium",
}


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    pattern_type: str
    pattern: re.Pattern[str]


def _rule(category: str, pattern_type: str, regex: str) -> Rule:
    return Rule(category, pattern_type, re.compile(regex, re.IGNORECASE))


RULES: tuple[Rule, ...] = (
    _rule("Scarcity", "low_stock", r"\bonly \d+ (left|remaining|available|in stock)|"
          r"\b\d+ (left|remaining) in stock|\blow (in )?stock|\blimited (stock|quantit)|"
          r"\balmost (gone|sold out)|\bselling (out )?fast|\bfew (items )?left|\blast \d+ "
          r"(items|pieces|units)|\bwhile (stocks?|supplies) last"),
    _rule("Scarcity", "high_demand", r"\bin (high )?demand\b|\bhigh demand|\bpopular (item|choice)|"
          r"\b\d+ (people|others|shoppers|customers) (are )?(viewing|looking|watching)|"
          r"\bin \d+ (carts|baskets)|\bsold \d+ (times|in the last)"),
    _rule("Urgency", "countdown_timer", r"\b(offer|sale|deal|discount|promotion|price) "
          r"(ends|expires) in\b|\b\d{1,2}\s*:\s*\d{2}\s*:\s*\d{2}\b|\b\d+\s*(h|hrs?|hours)\s*"
          r"\d+\s*(m|mins?|minutes)\b"),
    _rule("Urgency", "limited_time", r"\bhurry\b|\blimited[- ]time\b|\b(ends|expires) "
          r"(soon|today|tonight|at midnight)\b|\btoday only\b|\blast chance\b|\bact now\b|"
          r"\bdon'?t miss (out|it)\b|\bfor the next \d+"),
    _rule("Social Proof", "activity_notification", r"\b(just|recently) (bought|purchased|"
          r"ordered|signed up)|\b(bought|purchased|ordered) .{0,40}\b\d+ (seconds?|minutes?|"
          r"hours?) ago|\b\d+ (people|customers|shoppers|others) (have )?(bought|purchased|"
          r"ordered)|\bsomeone in .{1,30} (bought|purchased)"),
    _rule("Misdirection", "confirmshaming", r"\bno,? thanks?,? i\b|\bi('?d| would) rather "
          r"(pay|not|miss)|\bi (don'?t|do not) (want|like|need|care)\b.{0,40}"
          r"(sav|discount|deal|free|money|offer)|\bno,? i (hate|prefer|like paying)"),
    _rule("Misdirection", "pressured_selling", r"\b(upgrade|add) .{0,30}\b(recommended|"
          r"most people choose)|\bcustomers who bought this .{0,20}also\b|\bprotect your "
          r"purchase\b"),
    _rule("Sneaking", "hidden_subscription", r"\bauto(matically)?[- ]?renew|\brecurring "
          r"(charge|billing|payment)|\bfree trial.{0,60}\bthen \W?\d|\bbilled (monthly|"
          r"annually) until cancel"),
    _rule("Sneaking", "hidden_costs", r"\b(service|handling|processing|convenience|booking) "
          r"fee\b"),
    _rule("Obstruction", "hard_to_cancel", r"\bto cancel,? (please )?(call|contact|write)|"
          r"\bcancel(lation)? (only )?by (phone|mail|post)\b"),
    _rule("Forced Action", "forced_registration", r"\b(must|need to|required to) (create an "
          r"account|register|sign up)\b|\b(sign up|register|create an account) to (continue|"
          r"checkout|see|view|purchase)"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Detection:
    category: str
    pattern_type: str
    confidence: float
    rule: bool  # a hand-written rule matched, not only the learned weights


_TOKEN = re.compile(r"[a-z0]+|[!?%$£€:]")
_WORDY = re.compile(r"[^\W\d_]{3}")


def rule_hits(text: str) -> list[Rule]:
    return [r for r in RULES if r.pattern.search(text)]


def features(text: str) -> dict[str, float]:
    """Words, word pairs, rule hits and length: the detector's view of a text."""
    normal = re.sub(r"\d+", "0", text.lower())
    tokens = _TOKEN.findall(normal)
    feats: dict[str, float] = {f"w:{t}": 1.0 for t in tokens}
    feats |= {f"b:{a}_{b}": 1.0 for a, b in itertools.pairwise(tokens)}
    feats |= {f"rule:{r.pattern_type}": 1.0 for r in rule_hits(text)}
    feats[f"len:{_bucket(len(tokens))}"] = 1.0
    return feats


def _bucket(n: int) -> str:
    return next(str(edge) for edge in (1, 3, 7, 15, 40, 10**9) if n <= edge)


@cache
def _models() -> tuple[LinearModel, dict[str, LinearModel]] | None:
    try:
        data = load(MODEL_FILE)
    except FileNotFoundError:
        return None
    categories = {c: LinearModel.from_dict(m) for c, m in data["categories"].items()}
    return LinearModel.from_dict(data["detector"]), categories


def detect(text: str) -> Detection | None:
    """Is this visible text a dark pattern, and of which kind? None when it is not."""
    if not _WORDY.search(text):
        return None  # a bare price or number is not a claim a visitor can be misled by
    hits = rule_hits(text)
    models = _models()
    if models is None:
        return Detection(hits[0].category, hits[0].pattern_type, 0.7, True) if hits else None
    detector, categories = models
    feats = features(text)
    probability = detector.probability(feats)
    if probability < detector.threshold:
        return None
    if hits:
        return Detection(hits[0].category, hits[0].pattern_type, probability, True)
    category = max(categories, key=lambda c: categories[c].score(feats))
    return Detection(category, _DEFAULT_TYPE[category], probability, False)


_DEFAULT_TYPE = {
    "Scarcity": "scarcity",
    "Urgency": "urgency",
    "Social Proof": "social_proof",
    "Misdirection": "misdirection",
    "Sneaking": "sneaking",
    "Obstruction": "obstruction",
    "Forced Action": "forced_action",
}

_PLAIN = {
    "Scarcity": "The page says stock or availability is running out to rush your decision.",
    "Urgency": "The page puts a clock on your decision to stop you comparing or thinking.",
    "Social Proof": "The page shows other shoppers' activity that you cannot verify.",
    "Misdirection": "The page steers you with wording or design towards what the shop wants.",
    "Sneaking": "Something you did not ask for may be added or charged.",
    "Obstruction": "The site makes it hard to do what you want, such as cancelling.",
    "Forced Action": "The site makes you do something unrelated before you can continue.",
}


def iter_findings(page: Page) -> Iterator[Finding]:
    """Every dark pattern on one page, yielded as found so the phase can stream them."""
    if not page.is_html:
        return
    doc = html.parse(page.text, page.final_url)
    seen: set[str] = set()
    for segment in doc.segments:
        detection = detect(segment.text)
        if detection is not None and segment.text not in seen:
            seen.add(segment.text)
            yield _text_finding(detection, segment, page.final_url)
    yield from _preticked(doc)
    yield from _countdown_scripts(doc)


def _text_finding(detection: Detection, segment: html.Segment, url: str) -> Finding:
    how = "rule and model" if detection.rule else "model"
    return Finding(
        category="dark_pattern",
        pattern_type=detection.pattern_type,
        severity=_SEVERITY[detection.category],
        confidence=detection.confidence,
        description=f"{detection.category} ({detection.pattern_type}, by {how}) in "
        f"<{segment.where}>: \u201c{segment.text[:200]}\u201d",
        plain_english=_PLAIN[detection.category],
        evidence=segment.text[:300],
        url=url,
    )


_PRICE = re.compile(r"[$£€¥]\s?\d|\d\s?(usd|eur|gbp)\b|\+\s?\d+[.,]\d{2}", re.IGNORECASE)
_ADDON = re.compile(r"insurance|protection|warranty|donat|tip\b|priority|express|gift wrap|"
                    r"membership|subscri|premium|add[- ]on", re.IGNORECASE)  # fmt: skip
_OPT_IN = re.compile(r"newsletter|offers|marketing|partners|e-?mails?|updates", re.IGNORECASE)


def _preticked(doc: html.Document) -> Iterator[Finding]:
    for field in doc.fields:
        if field.type not in ("checkbox", "radio") or not field.checked or field.hidden:
            continue
        label = field.label[:200]
        if _PRICE.search(label) or (_ADDON.search(label) and field.type == "checkbox"):
            yield Finding("dark_pattern", "sneak_into_basket", "high", 0.85,
                          f"Sneaking: a paid add-on is pre-selected at <{field.where}>: "
                          f"\u201c{label}\u201d", "An extra you did not choose is already "
                          "ticked and would be added to what you pay.", label, doc.url)  # fmt: skip
        elif _OPT_IN.search(label) and field.type == "checkbox":
            yield Finding("dark_pattern", "preselected_consent", "low", 0.7,
                          f"Misdirection: a marketing opt-in is pre-ticked at <{field.where}>: "
                          f"\u201c{label}\u201d", "You are signed up for marketing unless you "
                          "notice and untick a box.", label, doc.url)  # fmt: skip


_TIMER_CODE = re.compile(r"countdown|timer|time ?left|ends ?in", re.IGNORECASE)
_TICK = re.compile(r"setInterval|setTimeout|requestAnimationFrame")
_RESET = re.compile(r"(localStorage|sessionStorage|document\.cookie)|Math\.random", re.IGNORECASE)


def _countdown_scripts(doc: html.Document) -> Iterator[Finding]:
    for number, script in enumerate(doc.scripts, 1):
        code = script.code
        match = _TIMER_CODE.search(code)
        if not match or not _TICK.search(code):
            continue
        # A timer that restarts per visitor or is randomised is fake by construction.
        fake = bool(_RESET.search(code))
        evidence = " ".join(code[max(0, match.start() - 60) : match.end() + 80].split())
        yield Finding("dark_pattern", "countdown_timer", "medium" if fake else "low",
                      0.8 if fake else 0.6, f"Urgency: a countdown timer driven by inline script "
                      f"{number}{' that resets per visitor' if fake else ''}.",
                      _PLAIN["Urgency"], evidence, doc.url)  # fmt: skip


def training_record(digest: str) -> dict[str, Any] | None:
    """What training stored about a file the model was fitted on, by its sha256; None if unseen."""
    try:
        data = load(MODEL_FILE)
    except FileNotFoundError:
        return None
    record: dict[str, Any] | None = data.get("trained_on", {}).get(digest)
    return record


def trained_pages() -> frozenset[str]:
    """sha256 of every saved page whose blocks served as training negatives."""
    try:
        data = load(MODEL_FILE)
    except FileNotFoundError:
        return frozenset()
    return frozenset(data.get("trained_pages", ()))
