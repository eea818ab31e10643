"""Dark patterns in the visible text of a page, by the taxonomy of Mathur et al. (CSCW 2019).

A page is read as its visible blocks (`html.Document.segments`); almost none of a real
page's blocks is a dark pattern, so the detector is built for precision:

- rules name a mechanism ("only N left", "N people are viewing", "no thanks, I'd rather
  pay more", "offer ends in 02:14:59") and never match a bare date, time, price or count;
- a logistic regression over the block's words, shape and rule hits, fitted by
  `scripts/train_models.py` on labelled dark-pattern texts against the blocks of real
  pages, gives every block a calibrated probability;
- a block is reported when a rule and the model agree, or when the model alone is very
  sure; the model alone never raises more than `low`;
- pressure claims (scarcity, urgency, social proof) count only on a page that sells
  something: a news article that mentions "high demand" is not pressuring a buyer.

`python -m veritas.eval darkpatterns` runs the very same `detect` on labelled texts.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from veritas.analysis import html
from veritas.analysis.costs import subscriptions
from veritas.analysis.countdown import countdowns
from veritas.analysis.model import Calibrator, LinearModel, load
from veritas.analysis.preselection import preselected
from veritas.finding import Finding, Severity
from veritas.page import Page

MODEL_FILE = "darkpattern_model.json"
CATEGORIES = (
    "Scarcity", "Urgency", "Social Proof", "Misdirection", "Sneaking", "Obstruction",
    "Forced Action",
)  # fmt: skip
# Claims that only pressure a buyer: reported only on a page that sells something.
PRESSURE = frozenset(("Scarcity", "Urgency", "Social Proof"))
# Add-ons pushed into or next to a purchase: there is one only where something is sold.
UPSELL = frozenset(("pressured_selling",))


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    pattern_type: str
    severity: Severity  # what a finding of this rule may raise, the model agreeing
    pattern: re.Pattern[str]
    veto: re.Pattern[str] | None = None  # what shows the text is something else

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text)) and not (self.veto and self.veto.search(text))


def _rule(category: str, pattern_type: str, severity: Severity, regex: str,
          veto: str | None = None) -> Rule:  # fmt: skip
    flags = re.IGNORECASE
    return Rule(category, pattern_type, severity, re.compile(regex, flags),
                re.compile(veto, flags) if veto else None)  # fmt: skip


_N = r"\d[\d,.]*\+?"
_FEW = r"\b(1[0-9]|[1-9])\b"  # a count small enough to be meant as "running out"
_UNIT = r"(d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)"
_CLOCK = rf"(\d{{1,2}}\s*:\s*\d{{2}}(\s*:\s*\d{{2}})?|\d+\s*{_UNIT}\b\W*\d+\s*{_UNIT}\b)"
# Digits of a countdown display, possibly split into single cells ("0 0 : 4 4"); bounded so
# that a long run of numbers cannot make the search backtrack without end.
_DIGITS = r"\d+(?:[\s:.]{1,3}\d+){0,7}[\s:.]{0,3}"
_THINGS = r"(items?(\(s\))?|units?|pieces?|pcs|pairs?|copies|products?|bottles?|seats?|" \
          r"rooms?|tickets?|spots?|places?|boxes|packs?|sizes?|in this size)"  # fmt: skip
_PEOPLE = r"(people|persons|others|shoppers|customers|users|visitors|buyers|guests|travell?ers)"
_BOUGHT = r"(bought|purchased|ordered|booked|added|grabbed|claimed|snapped up|signed up)"
# A time stamp or a form counter: never a countdown or a stock claim.
_STAMP = r"-\d{1,2}:\d\d|\b(duration|playback|current time|remaining time)\b|" \
         r"\b(19|20)\d{2}[-/.]\d{1,2}|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|\bago\b|\bposted\b|" \
         r"\bupdated\b|\bpublished\b|\b(am|pm)\b|\b(gmt|utc|[ecmp][sd]t)\b|characters?\b|" \
         r"\bwords?\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d"  # fmt: skip

RULES: tuple[Rule, ...] = (
    _rule("Scarcity", "low_stock", "low",
          rf"\bonly:? {_N} ({_THINGS} |stock )?(left|remaining|available|in stock)\b|"
          rf"\b{_N} ({_THINGS} )?(left|remaining)\b|\b{_THINGS} left:? {_N}|{_FEW} in stock\b|"
          rf"\b(less|fewer) than {_N} ({_THINGS} )?(left|available|remaining)\b|"
          r"\blow (in )?stock\b|\blimited (stock|quantit(y|ies)|supply|availability)\b|"
          r"\b(almost|nearly) (gone|sold out)\b|\bselling (out )?(fast|quickly)\b|\bgoing fast\b|"
          rf"\b(last|final) (few|one|{_N}) ({_THINGS}|left|available|remaining)\b|"
          rf"\b(few|not many) ({_THINGS} )?left\b|\bwhile (stocks?|supplies) last\b|"
          rf"\bonly one left\b|\bremaining stock\b|\blast {_THINGS} (in stock|left|available)\b",
          veto=_STAMP),
    _rule("Scarcity", "high_demand", "low",
          rf"\b{_N} (other )?{_PEOPLE} (are |is )?(currently |now |also |just )?(viewing|looking|"
          r"watching|considering|shopping|interested|viewed)|"
          rf"\b(high|strong|huge|heavy)[- ]demand\b|\bin demand\b|\b{_N} (viewing|watching) "
          r"(this|now|right now)\b|"
          rf"\bin {_N} ({_PEOPLE}'?s? )?(shopping )?(carts?|baskets?|bags?|trolleys?)\b|"
          rf"\b{_N} ({_THINGS} )?sold\b|\b{_N} (other )?({_PEOPLE} )?(have|has) "
          r"(it|this|them|this item|this product) in (their|a) (shopping )?(cart|basket|bag)|"
          rf"\bsold {_N} times\b|\b{_N} (other )?{_PEOPLE} (have )?(looked at|checked (this|it) "
          r"out)|"
          rf"\bin other {_PEOPLE}'? (carts|baskets|bags)\b",
          veto=_STAMP),
    _rule("Urgency", "countdown_timer", "low",
          rf"\b(ends?|ending|expires?|expiring|closes?|left|remaining|within|order in|"
          rf"reserved for|held for|offers? end|deal|sale|flash|hurry|off|save|discount|code)\b"
          rf".{{0,40}}{_CLOCK}|"
          rf"{_CLOCK}.{{0,20}}\b(left|remaining|to go)\b|^\W*\d+\s*days?\W+{_CLOCK}\W*$|"
          r"\bdays?\W+(hrs|hours)\W+(mins|minutes)\W+(secs|seconds)\b|"
          rf"{_DIGITS}days?\W*{_DIGITS}(hrs?|hours?)\W*{_DIGITS}(mins?|minutes?)|"
          rf"{_DIGITS}(hrs?|hours?)\W*{_DIGITS}(mins?|minutes?)\W*{_DIGITS}(secs?|seconds?)\b|"
          rf"{_DIGITS}(mins?|minutes?)\W*{_DIGITS}(secs?|seconds?)\b",
          veto=_STAMP),
    _rule("Urgency", "limited_time", "low",
          r"\bhurry\b|\blimited[- ]time\b|\b(ends|expires|ending) (soon|today|tonight|at "
          r"midnight|sunday|monday|tuesday|wednesday|thursday|friday|saturday)\b|\btoday "
          rf"only\b|\blast chance\b|\bact (now|fast)\b|\bdon'?t miss (out|it|this)\b|"
          rf"\bfor the next {_N}\b|\bflash (sale|deal|offer)\b|\bwhile you can\b|"
          r"\b(offer|deal|sale|price|discount|promotion)s? (ends|expires)\b|\bbefore it'?s too "
          r"late\b|\bsale extended\b|\blimited (time )?offer\b|"
          r"\bonly valid (if|for|until|today)\b"),
    _rule("Social Proof", "activity_notification", "low",
          rf"\b(just|recently) {_BOUGHT}\b|\b{_BOUGHT}\b.{{0,120}}\b\d+ (seconds?|minutes?|"
          rf"mins?|hours?|hrs?|days?) ago\b|\b{_N} {_PEOPLE} (have )?(already )?{_BOUGHT}\b|"
          rf"\b{_BOUGHT} by {_N}\b|\bsomeone\b.{{0,40}}\b{_BOUGHT}\b|"
          rf"\b[^\W\d_]+ (in|from) [^!?]{{2,60}}\b(just )?{_BOUGHT}|\b{_N} bought\b|"
          rf"\b{_BOUGHT}\b.{{0,60}}\bin the (last|past) {_N}|\bsomeone\b.{{0,60}}\b(started|is) "
          rf"buying\b|\b{_N} {_PEOPLE} (like|love) (this|it)\b|\b{_N} (added|bought) to "
          r"(cart|basket|bag)|"
          rf"\b(viewed|bought|purchased|ordered|added to (cart|basket|bag)) {_N} times\b|"
          rf"\b{_N} (viewed|views) (per|in the last|today|this)\b|"
          rf"\b{_N} {_PEOPLE} (have )?(viewed|added)\b|"
          rf"\b{_N} {_PEOPLE} (are )?(currently )?(active|online)\b|\blast {_BOUGHT} at\b",
          veto=r"(?-i:\bI|(?<=[a-z])I)('ve| have)? (just |recently )?(bought|purchased|ordered)\b"),
    _rule("Social Proof", "popularity_claim", "low",
          r"^\W*(most popular|best ?seller|bestselling|trending( now)?|hot (item|seller|"
          r"deal)|popular (choice|item|pick))\W*$"),
    _rule("Misdirection", "confirmshaming", "medium",
          r"^\W*(no|nah|nope|not now|skip)\b[^!?]{0,15}\b(i|i'm|i'll|i'd|i've|me|my|"
          r"i am|i will)\b[^?]{3,80}$|\bi('?d| would) rather (pay|not|miss|stay)\b|"
          r"\bi (don'?t|do not) (want|like|need|care)\b.{0,80}\b(sav|discount|deal|free|"
          r"money|offer|winning)|\bi (want|like|prefer) (to )?pay(ing)? (more|full)\b|"
          r"\bi('?ll| will) (shop|pay|continue|checkout) without\b|\bisn'?t for me\b|"
          r"\b(order|continue|checkout|check out|buy|shop|proceed|purchase|pay) (it )?without "
          r"(a |an |the |my |your |any )?(free |\w+ )?(discount|membership|savings?|offers?|gift|"
          r"protection|warranty|insurance|deals?|rewards?|coupon)\b"),
    # An add-on pushed at the buyer: reported only on a page that sells something.
    _rule("Misdirection", "pressured_selling", "low",
          r"\bupgrade my (purchase|order)\b|\bdon'?t forget (the|your|to add|these|this)\b|"
          r"\bwhy not (add|get|upgrade|include)\b|\b(you'?re|you are) missing out on (these|"
          r"this|our)\b|\badd (our |an? |the )?[\w ]{0,30}(warranty|protection( plan)?|insurance|"
          r"coverage)\b|\b(accidental damage|extended warranty|protection plan)\b"),
    _rule("Misdirection", "trick_question", "low",
          r"\buncheck\b.{0,40}\bif you (do not|don'?t|prefer not|would not|wouldn'?t)\b|"
          r"\bif you (do not|don'?t) (wish|want) to\b.{0,80}\b(box|check|tick)"),
    _rule("Sneaking", "hidden_costs", "low",
          r"\b(service|handling|processing|booking|convenience|admin(istration)?) (fee|charge)s?"
          r"\W{0,3}[$£€]\s?\d|\bcare (&|and) handling\W{0,3}[$£€]\s?\d"),
    _rule("Sneaking", "hidden_subscription", "medium",
          r"\bauto(matically)?[- ]?renew|\brecurring (charge|billing|payment)|"
          r"\bfree trial\b.{0,80}\bthen\b.{0,10}\d|\b(trial|membership)\b.{0,40}\bwith (this|your) "
          r"(order|purchase)\b|\bbilled (monthly|annually|yearly|every)"
          r".{0,30}until (you )?cancel"),
    _rule("Obstruction", "hard_to_cancel", "medium",
          r"\bto cancel\b.{0,60}\b(call|phone|telephone|write to|by post|by mail|in writing|"
          r"contact)\b|\bcancel\w*\b.{0,80}\b(e-?mail us|contacting|call us|calling|phone us|"
          r"by phone|in writing)\b|"
          r"\bcancel(lation)?s? (only )?(by|via) (phone|telephone|mail|post|letter)\b|"
          r"\b(contact|call|e-?mail|phone|write to) us\b.{0,40}\b(to|and we('?ll| will)) cancel|"
          r"\bcancel\w*\b.{0,80}\b(e-?mailing us|send(ing)? us an e-?mail)"),
    _rule("Forced Action", "bundled_consent", "medium",
          r"\bagree\b.{0,60}\b(to receive|receiving) (e-?mails?|marketing|offers|newsletters?|"
          r"promotions?)\b|\bauthori[sz]e\b.{0,60}\bto contact me\b"),
    _rule("Forced Action", "forced_registration", "medium",
          r"\b(must|need to|required to|have to) (create an account|register|sign up)\b.{0,30}"
          r"\b(to|before)\b|\b(sign up|register|create an account) to (continue|checkout|see|"
          r"view|purchase|buy)\b"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Detection:
    category: str
    pattern_type: str
    confidence: float  # calibrated probability that the text is a dark pattern
    rule: Rule | None  # the mechanism a rule named; None when only the model spoke


_TOKEN = re.compile(r"[^\W\d_]+|0|[!?%$£€¥:*]")
_WORDY = re.compile(r"[^\W\d_]{3}")
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("money", re.compile(r"[$£€¥]\s?\d|\d\s?(usd|eur|gbp)\b", re.I)),
    ("clock", re.compile(r"\b\d{1,2}:\d{2}\b")),
    ("date", re.compile(r"\b(19|20)\d{2}[-/.]\d{1,2}|\b\d{1,2}[-/.]\d{1,2}[-/.](19|20)?\d{2}\b|"
                        r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b",
                        re.I)),
    ("percent", re.compile(r"\d\s?%")),
    ("exclaim", re.compile(r"!")),
    ("sentence", re.compile(r"[a-z]{3,}[.;] [A-Z]")),
)  # fmt: skip
_MAX_TOKENS = 60


def rule_hits(text: str) -> list[Rule]:
    return [r for r in RULES if r.matches(text)]


def features(text: str) -> dict[str, float]:
    """Words, word pairs, rule hits, shape and length: the detector's view of a text."""
    normal = re.sub(r"\d+", "0", text.lower())
    tokens = _TOKEN.findall(normal)
    feats: dict[str, float] = {f"w:{t}": 1.0 for t in tokens[:_MAX_TOKENS]}
    feats |= {f"b:{a}_{b}": 1.0 for a, b in itertools.pairwise(tokens[:_MAX_TOKENS])}
    feats |= {f"rule:{r.pattern_type}": 1.0 for r in rule_hits(text)}
    feats |= {f"s:{name}": 1.0 for name, shape in _SHAPES if shape.search(text)}
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.6 * len(letters):
        feats["s:upper"] = 1.0
    feats[f"len:{_bucket(len(tokens))}"] = 1.0
    return feats


def _bucket(n: int) -> str:
    return next(str(edge) for edge in (1, 3, 7, 15, 30, 60, 10**9) if n <= edge)


@dataclass(frozen=True, slots=True)
class Detector:
    """The learned half: scores, a calibration, and the two decision thresholds."""

    model: LinearModel
    calibrator: Calibrator
    rule_threshold: float  # calibrated probability enough when a rule names the mechanism
    model_threshold: float  # calibrated probability enough for the model alone

    def probability(self, feats: Mapping[str, float], rule: bool) -> float:
        return self.calibrator.probability(self.model.score(feats), rule)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Detector:
        return cls(
            LinearModel.from_dict(data["model"]),
            Calibrator.from_dict(data["calibrator"]),
            float(data["rule_threshold"]),
            float(data["model_threshold"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(min_weight=0.02),
            "calibrator": self.calibrator.to_dict(),
            "rule_threshold": round(self.rule_threshold, 5),
            "model_threshold": round(self.model_threshold, 5),
        }


@cache
def _shipped() -> tuple[Detector, dict[str, LinearModel]] | None:
    try:
        data = load(MODEL_FILE)
    except FileNotFoundError:
        return None
    categories = {c: LinearModel.from_dict(m) for c, m in data["categories"].items()}
    return Detector.from_dict(data["detector"]), categories


# `veritas.eval` swaps in the detector of a cross-validation fold that never saw the text.
_OVERRIDE: contextvars.ContextVar[Detector | None] = contextvars.ContextVar(
    "darkpattern_detector", default=None
)


@contextlib.contextmanager
def using(detector: Detector) -> Iterator[None]:
    token = _OVERRIDE.set(detector)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def detect(text: str) -> Detection | None:
    """Is this visible text a dark pattern, and of which kind? None when it is not."""
    if not _WORDY.search(text):
        return None  # a bare price, time or number is not a claim a visitor can be misled by
    hits = rule_hits(text)
    shipped = _shipped()
    if shipped is None:
        return Detection(hits[0].category, hits[0].pattern_type, 0.5, hits[0]) if hits else None
    detector, categories = shipped
    detector = _OVERRIDE.get() or detector
    feats = features(text)
    probability = detector.probability(feats, bool(hits))
    if hits and probability >= detector.rule_threshold:
        return Detection(hits[0].category, hits[0].pattern_type, probability, hits[0])
    if probability < detector.model_threshold:
        return None
    category = max(categories, key=lambda c: categories[c].score(feats))
    return Detection(category, _DEFAULT_TYPE[category], probability, None)


_DEFAULT_TYPE = {
    "Scarcity": "scarcity",
    "Urgency": "urgency",
    "Social Proof": "social_proof",
    "Misdirection": "misdirection",
    "Sneaking": "sneaking",
    "Obstruction": "obstruction",
    "Forced Action": "forced_action",
}

PLAIN = {
    "Scarcity": "The page says stock or availability is running out to rush your decision.",
    "Urgency": "The page puts a clock on your decision to stop you comparing or thinking.",
    "Social Proof": "The page shows other shoppers' activity that you cannot verify.",
    "Misdirection": "The page steers you with wording or design towards what the shop wants.",
    "Sneaking": "Something you did not ask for may be added or charged.",
    "Obstruction": "The site makes it hard to do what you want, such as cancelling.",
    "Forced Action": "The site makes you do something unrelated before you can continue.",
}

# A page sells when it shows a price together with a way to buy, or marks up a product offer.
_PRICE = re.compile(
    r"[$£€¥₹₺₽]\s?\d|\d[\d.,]*\s?([€₺₽]|zł|kr|kč|kn|ft|lei|lv|usd|eur|gbp|chf|pln|sek|nok|dkk|"
    r"huf|czk|ron)(?!\w)",
    re.I,
)
_BUY = re.compile(
    r"\b(add to (cart|basket|bag|trolley)|buy (it )?now|proceed to checkout|in stock|"
    r"out of stock|in den (warenkorb|einkaufswagen)|ajouter au panier|añadir al carrito|"
    r"aggiungi al carrello|in winkelwagen|jetzt kaufen|do koszyka|u košaricu|do košíka)\b|"
    r"購物車|购物车|カートに入れる",
    re.I,
)
# A link to the shop's own basket: every page of a shop carries one, an article rarely does.
_CART_LINK = re.compile(
    r"/(cart|basket|checkout|bag|warenkorb|panier|carrito|carrello|winkelwagen|koszyk|kosik|"
    r"kosarica|kosarico|shopping-?cart)(\b|[/?._-])",
    re.I,
)
# The command of a buy button or link, the whole of its label, in the languages shops use;
# a menu's "Buy" names a section of the site, not this offer.
_COMMANDS = (
    r"buy|buy (it )?now|buy tickets?|order now|purchase|add to (cart|basket|bag|trolley)|"
    r"comprar( ahora| agora| entradas| boletos)?|kupi(te)?( sada| odmah)?|naro[čc]i(te)?|"
    r"naru[čc]i(te)?|dodaj (u|v) ko[šs]aric[ou]|(u|v) ko[šs]aric[ou]|(jetzt )?kaufen|"
    r"in den warenkorb|acheter|commander|ajouter au panier|bestellen|koop nu|"
    r"in (de )?winkelwagen|k[öo]p|k[öo]p nu|l[äa]gg i varukorgen|kj[øo]p|k[øo]b|osta|"
    r"lis[äa][äa] ostoskoriin|kup( teraz)?|do koszyka|koupit|do ko[šs][íi]ku|cump[ăa]r[ăa]|"
    r"ad[ăa]ug[ăa] [îi]n co[șş]|v[áa]s[áa]rl[áa]s|kos[áa]rba|acquista( ora)?|"
    r"aggiungi al carrello|a[ñn]adir al (carrito|cesta)|agregar al carrito|"
    r"adicionar ao carrinho|sat[\u0131i]n al|sepete ekle|купить|в корзину|kupi[ťt]"
)
BUY_CONTROL = re.compile(
    rf"(<(button|a)\b(?![^>]{{0,2000}}(menu|nav))[^>]{{0,2000}}>\s*(<[^>]{{0,300}}>\s*){{0,3}}|"
    rf"<input\b[^>]{{0,300}}\bvalue=[\"'])\s*({_COMMANDS})\s*[!.]?\s*[\"'<]",
    re.I,
)
_OFFER = re.compile(
    r"schema\.org/(Product|Offer)|\"@type\"\s*:\s*\[?\s*\"(Product|ProductGroup|Offer|"
    r"AggregateOffer)\"|"
    r"itemprop=[\"']?(price|offers)\b|og:type[\"']?\s+content=[\"']?product|product:price|"
    r"id=[\"']?(add-?to-?cart|addtocart|add_to_cart|buy-?now)",
    re.I,
)


_AUCTION = re.compile(r"\b(place (a |your )?bid|\d+ bids?|auction)\b", re.I)
# What an auction's own closing clock never says: a deal, a code, a basket, an order deadline.
_DEAL = re.compile(
    r"\b(offers?|deals?|sales?|discounts?|promo(tion)?s?|codes?|coupons?|off|flash|carts?|"
    r"baskets?|order (with)?in|prices? (increases?|goes up|rises?))\b",
    re.I,
)


def sells(doc: html.Document, source: str) -> bool:
    """Does this page offer something for sale (prices and a way to buy, or product data)?"""
    text = doc.text
    if _OFFER.search(source):
        return True
    buys = (
        _BUY.search(text)
        or any(_CART_LINK.search(link) for link in doc.links)
        or BUY_CONTROL.search(source)
    )
    return bool(buys and _PRICE.search(text))


def iter_findings(page: Page) -> Iterator[Finding]:
    """Every dark pattern on one page, yielded as found so the phase can stream them."""
    if not page.is_html:
        return
    source = page.text
    doc = html.parse(source, page.final_url)
    selling = sells(doc, source)
    auction = bool(_AUCTION.search(doc.text))
    for segment in doc.segments:
        detection = detect(segment.text)
        if detection is None:
            continue
        # Pressure needs a sale to pressure, and a menu names sections, not this offer.
        pressure = detection.category in PRESSURE or detection.pattern_type in UPSELL
        if pressure and (not selling or segment.navigation):
            continue
        if (
            detection.pattern_type == "countdown_timer"
            and auction
            and not _DEAL.search(segment.text)
        ):
            continue  # an auction's closing time is the real end of the sale
        if detection.pattern_type in ("hidden_subscription", "hidden_costs"):
            continue  # `costs` reads these with the price, the default and the other pages
        yield _text_finding(detection, segment, page.final_url)
    yield from preselected(doc)
    yield from subscriptions(doc)
    if selling:
        yield from countdowns(doc)


def _text_finding(detection: Detection, segment: html.Segment, url: str) -> Finding:
    rule = detection.rule
    how = f"rule {rule.pattern_type} and model" if rule is not None else "model only"
    # The learned weights alone are wrong often enough on real pages to say no more than low.
    severity: Severity = rule.severity if rule is not None else "low"
    quote = segment.text[:300]
    return Finding(
        category="dark_pattern",
        pattern_type=detection.pattern_type,
        severity=severity,
        confidence=detection.confidence,
        description=f"{detection.category} ({detection.pattern_type}, by {how}, "
        f"p={detection.confidence:.2f}) at {segment.where}: \u201c{quote[:200]}\u201d",
        plain_english=PLAIN[detection.category],
        evidence=quote,
        url=url,
    )


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
