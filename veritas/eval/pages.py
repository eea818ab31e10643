"""`pages`: the whole auditor on saved real pages, and the page-level figures it earns.

Every page goes through `Orchestrator.analyse`, the very phases (security, content, intel,
judge) an audit runs after its scout, on a site of that one page. Pages are audited in
parallel worker processes; the figures are computed from their results in the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from veritas.analysis.darkpatterns import Detector, trained_pages, using
from veritas.channel import Channel
from veritas.config import SECURITY_MODULE_NAMES, load_config
from veritas.emitter import Emitter
from veritas.eval.corpus import ADDRESS, Entry, served_page
from veritas.eval.folds import fold_detectors, fold_of, page_group
from veritas.finding import SEVERITIES
from veritas.orchestrator import Orchestrator
from veritas.page import Page

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
BELOW_SAFE = frozenset(("suspicious", "high_risk", "likely_fraudulent"))
HIGH_RISK_OR_WORSE = frozenset(("high_risk", "likely_fraudulent"))
TOP_FALSE = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the auditor concluded about one page, reduced to what the figures need."""

    entry: Entry
    risk_level: str
    trust_score: int
    site_type: str
    findings: tuple[dict[str, Any], ...]
    header_findings: frozenset[str]  # ids of the security_headers module's findings
    planted: tuple[str, ...] = ()

    @property
    def dark(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["category"] == "dark_pattern"]

    def false_dark(self) -> list[dict[str, Any]]:
        """Dark-pattern findings that quote neither a real claim nor a planted text."""
        truths = [c.text for c in self.entry.claims] + list(self.planted)
        return [f for f in self.dark if not any(quotes(f, t) for t in truths)]

    def serious(self) -> list[dict[str, Any]]:
        """Medium-or-worse findings, header grading aside."""
        return [
            f
            for f in self.findings
            if _RANK[f["severity"]] >= _RANK["medium"] and f["id"] not in self.header_findings
        ]

    def found(self, text: str) -> bool:
        return any(quotes(f, text) for f in self.dark)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def quotes(finding: dict[str, Any], text: str) -> bool:
    """Does the finding's evidence quote this text (or the text hold the whole evidence)?"""
    evidence, wanted = _norm(finding["evidence"]), _norm(text)
    if not evidence or not wanted:
        return False
    return wanted in evidence or (len(evidence) >= 4 and evidence in wanted)


async def audit(page: Page) -> dict[str, Any] | None:
    """The `audit_result` of a one-page site, through the auditor's own phases."""
    config = load_config([page.final_url, "--tier", "quick_scan"], {}, SECURITY_MODULE_NAMES)
    channel = Channel(None, None, -1, config.limits, logging.getLogger(__name__).warning)
    orchestrator = Orchestrator(config, Emitter(channel))
    orchestrator.state.pages.append(page)
    orchestrator.state.addresses.append(ADDRESS)
    return await orchestrator.analyse()


def held_out(entry: Entry) -> Detector | None:
    """The fold detector that never saw this page, when the shipped one was trained on it."""
    detectors = fold_detectors()
    if entry.sha256 not in trained_pages() or not detectors:
        return None
    return detectors[fold_of(page_group(entry.id))]


def outcome(entry: Entry, body: bytes | None = None, planted: tuple[str, ...] = ()) -> Outcome:
    page = served_page(entry.url, entry.body() if body is None else body)
    detector = held_out(entry)
    with using(detector) if detector is not None else contextlib.nullcontext():
        result = asyncio.run(audit(page))
    if result is None:
        raise RuntimeError(f"{entry.id}: the auditor produced no result")
    headers = result["security_results"].get("security_headers", {}).get("findings", [])
    return Outcome(
        entry=entry,
        risk_level=result["risk_level"],
        trust_score=result["trust_score"],
        site_type=result["site_type"],
        findings=tuple(result["findings"]),
        header_findings=frozenset(f["id"] for f in headers),
        planted=planted,
    )


def run_all(
    jobs: Sequence[tuple[Any, ...]], worker: Callable[..., Outcome], processes: int
) -> list[Outcome]:
    if processes <= 1:
        return [worker(*job) for job in jobs]
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(worker, *zip(*jobs, strict=True), chunksize=2))


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# --- figures ------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "n/a"


def _row(name: str, value: str) -> str:
    return f"  {name:<42}{value}"


@dataclass(frozen=True, slots=True)
class Figures:
    """The six page-level rows of issue 11 over a set of outcomes, with their counts."""

    legit: int
    false_dark: int
    serious: int
    below_safe: int
    fraudulent: int
    phish: int
    phish_high_risk: int
    phish_trusted: int
    shops: int
    shops_ecommerce: int
    claims: int
    claims_found: int

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> Figures:
        items = list(outcomes)
        legit = [o for o in items if o.entry.label == "legit"]
        phish = [o for o in items if o.entry.label == "phish"]
        shops = [o for o in legit if o.entry.kind == "shop_product"]
        claims = [(o, c) for o in legit for c in o.entry.claims]
        return cls(
            legit=len(legit),
            false_dark=sum(1 for o in legit if o.false_dark()),
            serious=sum(1 for o in legit if o.serious()),
            below_safe=sum(1 for o in legit if o.risk_level in BELOW_SAFE),
            fraudulent=sum(1 for o in legit if o.risk_level == "likely_fraudulent"),
            phish=len(phish),
            phish_high_risk=sum(1 for o in phish if o.risk_level in HIGH_RISK_OR_WORSE),
            phish_trusted=sum(1 for o in phish if o.risk_level == "trusted"),
            shops=len(shops),
            shops_ecommerce=sum(1 for o in shops if o.site_type == "ecommerce"),
            claims=len(claims),
            claims_found=sum(1 for o, c in claims if o.found(c.text)),
        )

    def rows(self) -> list[str]:
        rows = []
        if self.legit:
            rows += [
                _row("legit with a false dark-pattern finding", _pct(self.false_dark, self.legit)),
                _row("legit with a medium+ finding (no headers)", _pct(self.serious, self.legit)),
                _row("legit below probably_safe", _pct(self.below_safe, self.legit)),
                _row("legit called likely_fraudulent", str(self.fraudulent)),
            ]
        if self.phish:
            high = _pct(self.phish_high_risk, self.phish)
            rows.append(
                _row("phishing at high_risk or worse", f"{high}, {self.phish_trusted} trusted")
            )
        if self.shops:
            rows.append(_row("shop pages typed ecommerce", _pct(self.shops_ecommerce, self.shops)))
        if self.claims:
            rows.append(_row("real pressure claims found", _pct(self.claims_found, self.claims)))
        return rows

    def metrics(self) -> str:
        def rate(part: int, whole: int) -> str:
            return f"{part / whole:.4f}" if whole else "nan"

        return " ".join(
            (
                f"legit_false_dark={rate(self.false_dark, self.legit)}",
                f"legit_medium={rate(self.serious, self.legit)}",
                f"legit_below_safe={rate(self.below_safe, self.legit)}",
                f"legit_fraudulent={self.fraudulent}",
                f"phish_high_risk={rate(self.phish_high_risk, self.phish)}",
                f"phish_trusted={self.phish_trusted}",
                f"shop_ecommerce={rate(self.shops_ecommerce, self.shops)}",
                f"claims_found={self.claims_found}/{self.claims}",
                f"legit={self.legit} phish={self.phish}",
            )
        )


def report(outcomes: Sequence[Outcome]) -> list[str]:
    lines = ["all pages:", *Figures.of(outcomes).rows()]
    for kind in sorted({o.entry.kind for o in outcomes}):
        lines += [f"{kind}:", *Figures.of(o for o in outcomes if o.entry.kind == kind).rows()]
    lines += _missed_claims(outcomes)
    lines += _frequent("most frequent false dark-pattern findings", _false_dark(outcomes))
    lines += _frequent("most frequent medium+ findings on legit pages", _serious(outcomes))
    return lines


def _false_dark(outcomes: Sequence[Outcome]) -> Iterator[tuple[Outcome, dict[str, Any]]]:
    for o in outcomes:
        if o.entry.label == "legit":
            yield from ((o, f) for f in o.false_dark())


def _serious(outcomes: Sequence[Outcome]) -> Iterator[tuple[Outcome, dict[str, Any]]]:
    for o in outcomes:
        if o.entry.label == "legit":
            yield from ((o, f) for f in o.serious())


def _frequent(title: str, pairs: Iterable[tuple[Outcome, dict[str, Any]]]) -> list[str]:
    pages: dict[tuple[str, str, str], set[str]] = {}
    for o, f in pairs:
        key = (f["pattern_type"], f["severity"], " ".join(f["evidence"].split())[:90])
        pages.setdefault(key, set()).add(o.entry.id)
    by_type = Counter(k[0] for k, ids in pages.items() for _ in ids)
    lines = [f"{title}: pages per type, then per evidence"]
    lines += [f"  {n:4d}  {t}" for t, n in by_type.most_common(10)]
    ranked = sorted(pages.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_FALSE]
    lines += [f"  {len(ids):4d}  {t} [{s}] \u201c{e}\u201d" for (t, s, e), ids in ranked]
    return lines


def _missed_claims(outcomes: Sequence[Outcome]) -> list[str]:
    missed = [
        f"  missed: {c.pattern} \u201c{c.text}\u201d on {o.entry.id}"
        for o in outcomes
        for c in o.entry.claims
        if not o.found(c.text)
    ]
    return ["real pressure claims:", *missed] if missed else []
