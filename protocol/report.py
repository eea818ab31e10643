"""The audit report: an `audit_result` map -> words a person reads, as text lines or one HTML page.

Part of the contract because both ends show the same result the same way: the auditor
(`--report html`, the verdict it prints at the end) and the server (`GET /audits/{id}/report`)
render it from the very same map, and neither may import the other. Pure and stdlib only.

The HTML page is self-contained: its only style sheet is inline and named by its hash in
`REPORT_CSP`, screenshots are `data:` URLs, and the page fetches nothing. Links to the
references are plain links; nothing is loaded from them.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

SEVERITY_ORDER: Final = ("critical", "high", "medium", "low", "info")
LEVEL_WORDS: Final[Mapping[str, str]] = {
    "trusted": "Trusted",
    "probably_safe": "Probably safe",
    "suspicious": "Suspicious",
    "high_risk": "High risk",
    "likely_fraudulent": "Likely fraudulent",
}
LEVEL_MEANING: Final[Mapping[str, str]] = {
    "trusted": "Nothing serious was found.",
    "probably_safe": "Some weaknesses, nothing that points to fraud.",
    "suspicious": "Be careful: some signs call for a second look before you trust this site.",
    "high_risk": "Serious problems: do not give this site passwords or payment details.",
    "likely_fraudulent": "Strong signs of fraud: leave this site.",
}
MODULE_WORDS: Final[Mapping[str, str]] = {
    "security_headers": "browser protections (security headers)",
    "tls": "the secure connection (TLS certificate)",
    "redirect_chain": "redirects",
    "form_validation": "forms",
    "js_analysis": "scripts",
    "phishing": "phishing signs",
}
MAX_REASONS: Final = 3
MAX_PAGES_SHOWN: Final = 20


@dataclass(frozen=True, slots=True)
class Advice:
    meaning: str
    fix: str
    reference: str = ""  # a link to read more; never fetched by the report


_MDN: Final = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/"
# Header findings carry the Observatory test's result name with `_` for `-`; the prefix
# names the header.
HEADER_ADVICE: Final[Mapping[str, Advice]] = {
    "csp_": Advice(
        "Without a strict Content-Security-Policy, a script injected into the page runs "
        "with the page's full powers.",
        "Send Content-Security-Policy with default-src 'self' (or 'none'), no 'unsafe-inline' "
        "and no 'unsafe-eval'; move inline scripts and styles into files.",
        _MDN + "Content-Security-Policy",
    ),
    "hsts_": Advice(
        "Browsers are not told to use only the secure connection, so a first visit can be "
        "intercepted and downgraded.",
        "Send Strict-Transport-Security: max-age=63072000; includeSubDomains over https.",
        _MDN + "Strict-Transport-Security",
    ),
    "x_frame_options_": Advice(
        "Another site could show this page inside a frame and trick visitors into clicks.",
        "Send X-Frame-Options: DENY, or frame-ancestors 'none' in the Content-Security-Policy.",
        _MDN + "X-Frame-Options",
    ),
    "x_content_type_options_": Advice(
        "Browsers may guess a file's type and run a file as a script.",
        "Send X-Content-Type-Options: nosniff.",
        _MDN + "X-Content-Type-Options",
    ),
    "referrer_policy_": Advice(
        "The full address of the page a visitor was on can leak to other sites.",
        "Send Referrer-Policy: strict-origin-when-cross-origin (or no-referrer).",
        _MDN + "Referrer-Policy",
    ),
    "cookies_": Advice(
        "Cookies can be read by scripts or sent over plain http, where they can be stolen.",
        "Mark session cookies Secure, HttpOnly and SameSite=Lax (or Strict).",
        _MDN + "Set-Cookie",
    ),
    "cross_origin_resource_sharing_": Advice(
        "Other websites may read this site's responses, with the visitor's login attached.",
        "Send Access-Control-Allow-Origin only for the origins that need it, and never "
        "together with credentials for any origin.",
        _MDN + "Access-Control-Allow-Origin",
    ),
    "corp_": Advice(
        "Other sites may embed this site's resources.",
        "Send Cross-Origin-Resource-Policy: same-origin (or same-site).",
        _MDN + "Cross-Origin-Resource-Policy",
    ),
    "coop_": Advice(
        "A page opened from another site keeps a handle on this one's window.",
        "Send Cross-Origin-Opener-Policy: same-origin.",
        _MDN + "Cross-Origin-Opener-Policy",
    ),
    "sri_": Advice(
        "Scripts from other servers load without a check that they were not tampered with.",
        "Add integrity= and crossorigin= attributes to script tags that load from elsewhere.",
        "https://developer.mozilla.org/en-US/docs/Web/Security/Subresource_Integrity",
    ),
    "redirection_": Advice(
        "Visitors who type the address are not moved onto the secure connection at once.",
        "Redirect every http request to the same host over https, as the first redirect.",
        _MDN + "Strict-Transport-Security",
    ),
}
ADVICE: Final[Mapping[str, Advice]] = {
    "no_https": Advice(
        "Everything sent to this site, passwords included, travels readable by anyone on the way.",
        "Serve the site over https with a certificate from a public authority.",
    ),
    "certificate_expired": Advice(
        "The site's certificate has expired: browsers warn, and the connection may be intercepted.",
        "Renew the certificate, and automate its renewal.",
    ),
    "certificate_expires_soon": Advice(
        "The site's certificate expires soon.", "Renew the certificate before it expires."
    ),
    "certificate_hostname_mismatch": Advice(
        "The certificate was issued for another name: the site may not be the one it claims.",
        "Use a certificate that names this host.",
    ),
    "certificate_verify_failed": Advice(
        "No trusted authority vouches for this site's certificate.",
        "Use a certificate from a public certificate authority, with its full chain.",
    ),
    "self_signed_certificate": Advice(
        "The site vouches for itself: anyone can make such a certificate.",
        "Use a certificate from a public certificate authority.",
    ),
    "certificate_not_yet_valid": Advice(
        "The certificate is not valid yet.", "Check the server's clock and the certificate."
    ),
    "old_tls_protocol": Advice(
        "The connection uses an outdated protocol version with known weaknesses.",
        "Allow TLS 1.2 and 1.3 only.",
    ),
    "credentials_to_other_domain": Advice(
        "A password form sends what you type to another website.",
        "Post login forms to the site's own domain only.",
    ),
    "payment_over_http": Advice(
        "Card details would travel unencrypted.", "Serve every payment page over https."
    ),
    "sensitive_data_by_get": Advice(
        "Passwords or card numbers would end up in the address bar and server logs.",
        "Send sensitive forms with method=post.",
    ),
    "mixed_active_content": Advice(
        "A secure page loads scripts over plain http: anyone on the way could change them.",
        "Load every script over https.",
    ),
    "mixed_passive_content": Advice(
        "A secure page loads images or media over plain http.", "Load every resource over https."
    ),
    "cross_origin_script_without_sri": Advice(
        "A script from another server loads without a tamper check.",
        "Add integrity= and crossorigin= to that script tag, or host the script yourself.",
        "https://developer.mozilla.org/en-US/docs/Web/Security/Subresource_Integrity",
    ),
    "cryptominer": Advice(
        "The page runs a cryptocurrency miner on the visitor's computer.", "Remove the miner."
    ),
    "phishing_verdict": Advice(
        "The page looks built to steal logins or payment details.",
        "Do not enter anything here. If it is your site, it may have been compromised.",
    ),
    "brand_impersonation": Advice(
        "The page uses a well-known brand's name or look on a domain that is not the brand's.",
        "Use only your own brand; if this is a partner site, say so and link to the brand.",
    ),
    "https_downgrade": Advice(
        "A redirect moves visitors from the secure connection to an insecure one.",
        "Keep every redirect on https.",
    ),
}
CATEGORY_ADVICE: Final[Mapping[str, Advice]] = {
    "dark_pattern": Advice(
        "The page uses a pressure tactic that pushes visitors into a decision.",
        "Remove false urgency, scarcity and guilt wording; make the choice neutral.",
    ),
    "phishing": Advice(
        "The page shows a sign common on phishing pages.",
        "If it is your site, check that nothing imitates another brand or asks for logins "
        "it should not.",
    ),
    "intel": Advice(
        "A fact about the site that trusted sites rarely show.",
        "Make the site's ownership and age easy to verify.",
    ),
    "security": Advice(
        "A security weakness a careful site would not have.",
        "Follow the reference below or the finding's detail.",
    ),
}


def advice(finding: Mapping[str, Any]) -> Advice:
    """What a finding means and how to fix it, in plain words."""
    kind = str(finding.get("pattern_type", ""))
    if kind in ADVICE:
        return ADVICE[kind]
    for prefix, header in HEADER_ADVICE.items():
        if kind.startswith(prefix):
            return header
    category = str(finding.get("category", ""))
    return CATEGORY_ADVICE.get(category, CATEGORY_ADVICE["security"])


@dataclass(slots=True)
class Group:
    """Findings that say the same thing, on one or more pages."""

    first: Mapping[str, Any]
    pages: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def severity(self) -> str:
        return str(self.first.get("severity", "info"))


def group_findings(findings: Iterable[Mapping[str, Any]]) -> list[Group]:
    """One group per kind and wording, worst first; the pages each was seen on, in order."""
    groups: dict[tuple[str, str], Group] = {}
    for finding in findings:
        key = (str(finding.get("pattern_type")), str(finding.get("plain_english")))
        group = groups.setdefault(key, Group(finding))
        group.count += 1
        page = str(finding.get("url", ""))
        if page and page not in group.pages:
            group.pages.append(page)
    return sorted(groups.values(), key=lambda g: _rank(g.severity))


def _rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def level_words(level: str) -> str:
    return LEVEL_WORDS.get(level, level.replace("_", " ").capitalize())


def top_reasons(result: Mapping[str, Any], limit: int = MAX_REASONS) -> list[str]:
    """The worst findings' plain words, each sentence once."""
    reasons: list[str] = []
    for group in group_findings(_findings(result)):
        if group.severity == "info":
            continue
        text = str(group.first.get("plain_english") or group.first.get("description", ""))
        if text and text not in reasons:
            reasons.append(text)
        if len(reasons) == limit:
            break
    return reasons


def verdict_lines(result: Mapping[str, Any]) -> list[str]:
    """The end of a run in words: the level, the score, what it means, the top reasons."""
    level = str(result.get("risk_level", ""))
    lines = [
        f"Verdict: {level_words(level)} (trust score {result.get('trust_score')}/100).",
        LEVEL_MEANING.get(level, ""),
    ]
    reasons = top_reasons(result)
    if reasons:
        lines.append("Main reasons:")
        lines.extend(f"  - {reason}" for reason in reasons)
    elif level:
        lines.append("No finding lowered the score.")
    return [line for line in lines if line]


def unrepeated(text: str, shown: Iterable[str]) -> str:
    """`text` without the sentences already shown elsewhere on the page, line by line; a line
    left with only its label ("What worried us:") goes too."""
    sentences = [s for s in shown if s]
    kept = []
    for line in text.splitlines():
        rest = line
        for sentence in sentences:
            rest = rest.replace(sentence, "")
        rest = " ".join(rest.split())
        if rest and not rest.endswith(":"):
            kept.append(rest)
    return "\n".join(kept)


def not_checked(result: Mapping[str, Any]) -> list[str]:
    """What this audit did not look at, so a clean report is not read as more than it is."""
    ran = set(result.get("security_results") or {})
    lines = [f"Not checked: {words}." for name, words in MODULE_WORDS.items() if name not in ran]
    lines.extend(f"Could not check: {error}" for error in result.get("errors") or [])
    pages = result.get("pages_scanned")
    if isinstance(pages, int):
        lines.append(
            f"Only {pages} page{'s' if pages != 1 else ''} of the site "
            f"{'were' if pages != 1 else 'was'} read (tier {result.get('tier', '?')})."
        )
    lines.append(
        "Scripts were read, not run: what a page does only after it runs scripts was not seen."
    )
    lines.append("The site's owner, company records and reviews were not checked.")
    return lines


def _findings(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in result.get("findings") or [] if isinstance(f, Mapping)]


# HTML --------------------------------------------------------------------------------------

STYLE: Final = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem}
.verdict{border-radius:8px;padding:1rem;margin:1rem 0;border:2px solid #888}
.verdict .score{font-size:2.4rem;font-weight:700}
.trusted,.probably_safe{border-color:#2e7d32;background:#edf7ed}
.suspicious{border-color:#b26a00;background:#fff4e5}
.high_risk,.likely_fraudulent{border-color:#c62828;background:#fdecea}
.finding{border-left:4px solid #888;padding:.5rem 1rem;margin:1rem 0;background:#fafafa}
.sev-critical,.sev-high{border-left-color:#c62828}.sev-medium{border-left-color:#b26a00}
.sev-low{border-left-color:#1565c0}.sev-info{border-left-color:#888}
.badge{font-size:.8rem;font-weight:700;text-transform:uppercase;margin-right:.5rem}
.muted{color:#555;font-size:.9rem}code{word-break:break-all}
table{border-collapse:collapse}
td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}
img{max-width:100%;border:1px solid #ccc}
@media (max-width:600px){body{padding:.5rem}.verdict .score{font-size:1.8rem}}
"""
STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# The report loads nothing: its one style block is allowed by hash, images only as data: URLs.
REPORT_CSP: Final = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Screenshot:
    label: str
    mime: str
    data: bytes


def render_html(
    result: Mapping[str, Any],
    *,
    screenshots: Sequence[Screenshot] = (),
    generated: str = "",
) -> str:
    """The whole report as one HTML document; every value from the result is escaped."""
    url = str(result.get("final_url") or result.get("url") or "")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(REPORT_CSP)}">',
        f"<title>Veritas report: {_e(url)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Trust report for <code>{_e(url)}</code></h1>",
        _verdict_html(result),
        _findings_html(result),
        _screenshots_html(screenshots),
        _scores_html(result),
        _not_checked_html(result),
        f'<p class="muted">{_e(generated)}</p>' if generated else "",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _verdict_html(result: Mapping[str, Any]) -> str:
    level = str(result.get("risk_level", ""))
    shown = top_reasons(result)
    reasons = "".join(f"<li>{_e(r)}</li>" for r in shown)
    narrative = unrepeated(str(result.get("narrative") or ""), shown)
    return (
        f'<section class="verdict {_e(level)}"><div class="score">'
        f"{_e(level_words(level))}: {_e(result.get('trust_score'))}/100</div>"
        f"<p>{_e(LEVEL_MEANING.get(level, ''))}</p>"
        + (f"<p>Main reasons:</p><ul>{reasons}</ul>" if reasons else "")
        + (f"<p>{_e(narrative)}</p>" if narrative else "")
        + "</section>"
    )


def _findings_html(result: Mapping[str, Any]) -> str:
    groups = group_findings(_findings(result))
    if not groups:
        return "<h2>Findings</h2><p>No finding.</p>"
    return f"<h2>Findings ({len(groups)})</h2>" + "".join(_group_html(g) for g in groups)


def _group_html(group: Group) -> str:
    finding, tip = group.first, advice(group.first)
    plain = str(finding.get("plain_english") or "")
    lines = [
        f'<article class="finding sev-{_e(group.severity)}">',
        f'<h3><span class="badge">{_e(group.severity)}</span>{_e(plain or tip.meaning)}</h3>',
    ]
    if plain and plain != tip.meaning:
        lines.append(f"<p>{_e(tip.meaning)}</p>")
    lines.append(f"<p><strong>How to fix it:</strong> {_e(tip.fix)}</p>")
    if tip.reference:
        lines.append(f'<p>Reference: <a href="{_e(tip.reference)}">{_e(tip.reference)}</a></p>')
    lines.append(
        f'<p class="muted">Detail: {_e(finding.get("description", ""))}<br>'
        f"Evidence: <code>{_e(finding.get('evidence', ''))}</code></p>"
    )
    lines.append(_pages_html(group))
    lines.append("</article>")
    return "".join(lines)


def _pages_html(group: Group) -> str:
    shown = group.pages[:MAX_PAGES_SHOWN]
    more = len(group.pages) - len(shown)
    items = "".join(f"<li><code>{_e(page)}</code></li>" for page in shown)
    extra = f"<li>and {more} more</li>" if more > 0 else ""
    times = f" ({group.count} times)" if group.count > 1 else ""
    return f'<p class="muted">Seen on{times}:</p><ul>{items}{extra}</ul>'


def _screenshots_html(screenshots: Sequence[Screenshot]) -> str:
    if not screenshots:
        return ""
    images = "".join(
        f'<figure><img alt="{_e(s.label)}" src="data:{_e(s.mime)};base64,'
        f'{base64.b64encode(s.data).decode()}"><figcaption>{_e(s.label)}</figcaption></figure>'
        for s in screenshots
        if s.mime.startswith("image/")
    )
    return f"<h2>Screenshots</h2>{images}"


def _scores_html(result: Mapping[str, Any]) -> str:
    signals = result.get("signal_scores") or {}
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}/100</td></tr>" for k, v in signals.items())
    caps = "".join(
        f"<li>{_e(c.get('rule', ''))}: score held at {_e(c.get('cap', ''))} or below</li>"
        for c in result.get("caps") or []
        if isinstance(c, Mapping)
    )
    body = f"<h2>How the score was made</h2><table><tr><th>signal</th><th>score</th></tr>{rows}"
    body += f"</table><p>Before caps: {_e(result.get('uncapped_score', '?'))}/100.</p>"
    return body + (f"<p>Caps that applied:</p><ul>{caps}</ul>" if caps else "")


def _not_checked_html(result: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{_e(line)}</li>" for line in not_checked(result))
    return f"<h2>What was not checked</h2><ul>{items}</ul>"
