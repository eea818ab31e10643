"""The `js_analysis` security module: miners, obfuscation, unsigned and mixed content."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from veritas.analysis import html
from veritas.analysis.domain import host_of, registrable_domain
from veritas.analysis.result import ModuleResult, score_from
from veritas.finding import Finding, Severity
from veritas.page import Site

# Names of browser mining kits and the pools they talk to (Coinhive and its successors).
_MINER = re.compile(
    r"coinhive|coin-hive|CoinHive\.Anonymous|cryptonight|cryptoloot|crypto-loot|authedmine|"
    r"webminepool|deepminer|minero\.cc|jsecoin|coinimp|webmine\.pro|monerominer|"
    r"perfekt-mining|miner\.start\(|stratum\+tcp|throttleMiner|CryptoniteMiner",
    re.I,
)
_POOL_SOCKET = re.compile(
    r"wss?://[^\s'\"]*(pool|xmr|monero|mine|stratum|nanopool|hashvault|supportxmr)[^\s'\"]*", re.I
)
_EVAL_DECODED = re.compile(
    r"\b(eval|Function|setTimeout|setInterval)\s*\(\s*(atob|unescape|decodeURIComponent|"
    r"String\.fromCharCode|escape)\s*\(",
)
_WRITE_DECODED = re.compile(r"document\.write(ln)?\s*\(\s*(unescape|atob|decodeURIComponent)\s*\(")
_ESCAPES = re.compile(r"\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|%[0-9a-fA-F]{2}")
_OBFUSCATOR_ID = re.compile(r"\b_0x[0-9a-f]{4,}\b")
_IDENTIFIER = re.compile(r"\b[A-Za-z_$][A-Za-z0-9_$]{19,}\b")
ESCAPE_DENSITY = 0.15
MIN_ESCAPES = 40
MIN_OBFUSCATED_IDS = 20


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    origin: str  # "inline script 2 on URL" or the script's URL
    url: str  # the page it belongs to


def js_analysis(site: Site) -> ModuleResult:
    findings = list(iter_findings(site))
    scanned = sum(1 for _ in _code(site))
    return ModuleResult("js_analysis", score_from(findings), tuple(findings), {"scripts": scanned})


def iter_findings(site: Site) -> Iterator[Finding]:
    for code in _code(site):
        yield from code_findings(code)
    for page in site.pages:
        if page.is_html:
            doc = html.parse(page.text, page.final_url)
            yield from _unsigned(doc)
            yield from _mixed(doc)


def _code(site: Site) -> Iterator[Code]:
    for page in site.pages:
        if not page.is_html:
            continue
        doc = html.parse(page.text, page.final_url)
        inline = [s for s in doc.scripts if s.src is None and s.code.strip()]
        for number, script in enumerate(inline, 1):
            yield Code(script.code, f"inline script {number}", page.final_url)
        for script in doc.scripts:
            if script.src and _MINER.search(script.src):
                yield Code(script.src, script.src, page.final_url)
    for fetched in site.scripts:
        yield Code(fetched.text, fetched.final_url, fetched.final_url)


def code_findings(code: Code) -> list[Finding]:
    found = []
    if match := _MINER.search(code.code) or _POOL_SOCKET.search(code.code):
        found.append(
            _f(
                "cryptominer",
                "critical",
                f"Browser cryptominer signature in {code.origin}.",
                "This site uses your computer to mine cryptocurrency without asking.",
                _around(code.code, match),
                code.url,
            )
        )
    if match := _EVAL_DECODED.search(code.code):
        found.append(
            _f(
                "eval_decoded_string",
                _hiding(code.code, match),
                f"{code.origin} executes a decoded string, a common way to hide code.",
                "The site runs hidden code.",
                _around(code.code, match),
                code.url,
            )
        )
    if match := _WRITE_DECODED.search(code.code):
        found.append(
            _f(
                "document_write_decoded",
                _hiding(code.code, match),
                f"{code.origin} writes decoded markup into the page.",
                "The site injects hidden content into the page.",
                _around(code.code, match),
                code.url,
            )
        )
    found.extend(_density(code))
    return found


# A decoded argument this long is a hidden payload; shorter is the classic analytics loader
# (document.write(unescape("%3Cscript src='...ga.js'%3E"))) that millions of pages carried.
HIDDEN_PAYLOAD_ESCAPES = 30
_LONG_LITERAL = re.compile(r"[\"'][A-Za-z0-9+/=%\\]{200,}")


def _hiding(text: str, match: re.Match[str]) -> Severity:
    argument = text[match.end() : match.end() + 2000]
    hidden = len(_ESCAPES.findall(argument)) >= HIDDEN_PAYLOAD_ESCAPES
    return "medium" if hidden or _LONG_LITERAL.match(argument.lstrip()) else "low"


def _density(code: Code) -> list[Finding]:
    found = []
    escapes = _ESCAPES.findall(code.code)
    escaped_chars = sum(len(e) for e in escapes)
    if len(escapes) >= MIN_ESCAPES and escaped_chars / max(1, len(code.code)) >= ESCAPE_DENSITY:
        found.append(
            _f(
                "dense_escapes",
                "low",
                f"{code.origin}: {len(escapes)} hex/unicode "
                f"escapes ({escaped_chars / len(code.code):.0%} of the code).",
                "Part of the site's code is deliberately unreadable.",
                " ".join(escapes[:12]),
                code.url,
            )
        )
    obfuscated = set(_OBFUSCATOR_ID.findall(code.code))
    random_ids = {i for i in _IDENTIFIER.findall(code.code) if entropy(i) > 4.2}
    if len(obfuscated) >= MIN_OBFUSCATED_IDS or len(random_ids) >= MIN_OBFUSCATED_IDS:
        sample = sorted(obfuscated or random_ids)[:6]
        found.append(
            _f(
                "high_entropy_identifiers",
                "low",
                f"{code.origin}: "
                f"{len(obfuscated | random_ids)} machine-generated identifiers, the mark "
                "of an obfuscator.",
                "Part of the site's code is deliberately unreadable.",
                ", ".join(sample),
                code.url,
            )
        )
    return found


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _unsigned(doc: html.Document) -> Iterator[Finding]:
    site = registrable_domain(host_of(doc.url))
    foreign = [
        s.src
        for s in doc.scripts
        if s.src and not s.integrity and registrable_domain(host_of(s.src)) != site
    ]
    if foreign:
        hosts = sorted({host_of(s) for s in foreign})
        yield _f(
            "cross_origin_script_without_sri",
            "low",
            f"{len(foreign)} script(s) from "
            f"{', '.join(hosts[:5])} load without Subresource Integrity.",
            "Code from other companies runs here without a tamper check.",
            ", ".join(foreign[:3]),
            doc.url,
        )


def _mixed(doc: html.Document) -> Iterator[Finding]:
    if not doc.url.startswith("https:"):
        return
    insecure = [r for r in doc.resources if r.url.startswith("http:")]
    active = [r for r in insecure if r.active]
    if active:
        # Browsers block mixed scripts, frames and styles: the page breaks, the visitor is
        # not exposed. A hygiene fault for the operator, not a risk to the reader.
        yield _f(
            "mixed_active_content",
            "low",
            f"{len(active)} script/frame/style resource(s) over http on an https page.",
            "Parts of this secure page load insecurely and could be tampered with.",
            ", ".join(r.url for r in active[:3]),
            doc.url,
        )
    passive = [r for r in insecure if not r.active]
    if passive:
        yield _f(
            "mixed_passive_content",
            "low",
            f"{len(passive)} image/media resource(s) over http on an https page.",
            "Some images on this secure page load insecurely.",
            ", ".join(r.url for r in passive[:3]),
            doc.url,
        )


def _around(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 40), min(len(text), match.end() + 60)
    return " ".join(text[start:end].split())


# Positional, in the order of Finding's own fields, so each check reads as one line.
def _f(kind: str, severity: Severity, desc: str, plain: str, evidence: str, url: str) -> Finding:  # noqa: PLR0917
    return Finding("security", kind, severity, 0.9, desc, plain, evidence, url)
