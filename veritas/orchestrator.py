"""The audit pipeline: init, scout, security, content, intel, judge, each one as events.

Each phase emits `phase_start`, its events as they happen, then `phase_complete` with a
summary, or `phase_error`, after which the pipeline goes on with what it has. Two failures
leave nothing to judge and end the audit without a result (`AuditFailed`): a refused or
invalid target in `init`, and an entry page that cannot be fetched in `scout`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import urlsplit

from veritas.analysis import (
    SECURITY_MODULES,
    IntelReport,
    ModuleResult,
    SiteType,
    classify_site,
    gather_intel,
    iter_content,
    site_content,
)
from veritas.analysis.headers import PREFLIGHT_ORIGIN
from veritas.config import Config
from veritas.emitter import Emitter
from veritas.errors import AuditFailed, FetchError, RefusedTarget
from veritas.fetch import Fetcher
from veritas.finding import Finding, FindingBudget
from veritas.page import Page, Site
from veritas.scoring import Evidence, VerdictMode, judge
from veritas.scout import page_links, script_links


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    label: str
    message: str  # what phase_start says the phase is about to do
    start: float  # pct at phase_start
    end: float  # pct at phase_complete
    wire: str = ""  # the protocol's phase name when it differs from the key


PHASE_SPECS: Final = {
    "init": PhaseSpec("Initialising", "resolving and checking the target", 0, 5),
    "scout": PhaseSpec("Scouting pages", "fetching the entry page and same-site links", 5, 45),
    "security": PhaseSpec("Security checks", "running the security modules", 45, 65),
    "content": PhaseSpec("Content analysis", "reading pages for dark patterns", 65, 80),
    # deep_forensic only: the pages as a browser renders them (reported as content)
    "render": PhaseSpec(
        "Rendered pages", "rendering pages in a headless browser", 80, 80, "content"
    ),
    "intel": PhaseSpec("Intelligence", "gathering domain, certificate and link facts", 80, 90),
    "judge": PhaseSpec("Verdict", "weighing the evidence", 90, 100),
}
# Seconds of the audit's time limit kept back from the scout for analysis and the verdict.
ANALYSIS_RESERVE: Final = 3.0


@dataclass(slots=True)
class AuditState:
    """What the phases have gathered so far; the judge reads all of it."""

    addresses: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    scripts: list[Page] = field(default_factory=list)
    modules: dict[str, ModuleResult] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # each reported once, merged below
    pages_of: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    site_type: SiteType | None = None
    intel: IntelReport | None = None
    errors: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)

    http: Page | None = None  # http://host/ when the audit began on https
    cors: Page | None = None  # the CORS preflight of the entry page

    @property
    def site(self) -> Site:
        return Site(tuple(self.pages), tuple(self.scripts), self.http, self.cors)


Summary = dict[str, Any]


class Orchestrator:
    def __init__(self, config: Config, emitter: Emitter) -> None:
        self.config = config
        self.emitter = emitter
        self.state = AuditState()
        self.started = time.monotonic()
        limits = config.limits
        self.budget = FindingBudget(limits.max_findings_per_pattern, limits.max_findings)

    async def run(self) -> dict[str, Any] | None:
        """Run every phase; the `audit_result` map, or None when the audit failed."""
        async with Fetcher.for_config(self.config) as fetcher:
            try:
                await self._phase("init", lambda: self._init(fetcher))
                await self._phase("scout", lambda: self._scout(fetcher))
            except AuditFailed as exc:
                self.emitter.log("orchestrator", "error", f"audit failed: {exc}")
                return None
            return await self.analyse(fetcher)

    async def analyse(self, fetcher: Fetcher | None = None) -> dict[str, Any] | None:
        """The phases after the scout, on the pages in `state`; `veritas.eval` calls it too.

        Without a fetcher (saved pages) the deep tier's render phase has nothing to render with.
        """
        phases: list[tuple[str, Callable[[], Awaitable[Summary]]]] = [
            ("security", self._security),
            ("content", self._content),
        ]
        if fetcher is not None and self.config.tier == "deep_forensic":
            phases.append(("render", lambda: self._render(fetcher)))
        phases.append(("intel", self._intel))
        for name, phase in phases:
            await self._phase(name, phase)
        result: dict[str, Any] | None = None

        async def verdict() -> Summary:
            nonlocal result
            result = self._judge()
            score, level = result["trust_score"], result["risk_level"]
            message = f"trust score {score}/100: {level}"
            return {"message": message, "trust_score": score, "risk_level": level}

        await self._phase("judge", verdict)
        if result is not None:
            self.emitter.emit("audit_result", result=result)
        return result

    async def _phase(self, name: str, body: Callable[[], Awaitable[Summary]]) -> None:
        spec = PHASE_SPECS[name]
        common = {"phase": spec.wire or name, "label": spec.label}
        self.emitter.emit("phase_start", **common, message=spec.message, pct=spec.start)
        await self.emitter.drain()
        try:
            summary = await body()
        except AuditFailed as exc:
            self._phase_error(name, spec, str(exc))
            raise
        except Exception as exc:  # one phase's failure never ends the audit
            self._phase_error(name, spec, f"{type(exc).__name__}: {exc}")
            return
        message = summary.pop("message", f"{spec.label} complete")
        self.emitter.emit(
            "phase_complete", **common, message=message, pct=spec.end, summary=summary
        )
        await self.emitter.drain()

    def _phase_error(self, name: str, spec: PhaseSpec, error: str) -> None:
        self.state.errors.append(f"{name}: {error}")
        self.emitter.emit(
            "phase_error",
            phase=spec.wire or name,
            label=spec.label,
            message=error,
            pct=spec.end,
            error=error,
        )

    # init ---------------------------------------------------------------------------------

    async def _init(self, fetcher: Fetcher) -> Summary:
        config = self.config
        try:
            self.state.addresses = await fetcher.resolve(config.url)
        except FetchError as exc:
            raise AuditFailed(str(exc)) from exc
        budget = config.budget
        guard = "off (private targets allowed)" if config.allow_private else "on"
        self.emitter.log(
            "orchestrator",
            "info",
            f"auditing {config.url} ({', '.join(self.state.addresses)}); guard {guard}",
        )
        return {
            "message": f"{config.target.host} resolves to {', '.join(self.state.addresses)}",
            "url": config.url,
            "host": config.target.host,
            "addresses": self.state.addresses,
            "tier": config.tier,
            "max_pages": budget.pages,
            "max_scripts": budget.scripts,
            "time_limit": budget.time_limit,
            "security_modules": list(config.security_modules),
        }

    # scout --------------------------------------------------------------------------------

    async def _scout(self, fetcher: Fetcher) -> Summary:
        budget = self.config.budget
        deadline = self.started + max(1.0, budget.time_limit - ANALYSIS_RESERVE)
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                entry = await self._fetch_entry(fetcher)
        except TimeoutError:
            limit = budget.time_limit
            raise AuditFailed(f"time limit of {limit:g} s reached before the entry page") from None
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                await self._probe(fetcher, entry)
                await self._fetch_all(fetcher, page_links(entry, budget.pages - 1), "page")
                scripts = script_links(self.state.pages, entry, budget.scripts)
                await self._fetch_all(fetcher, scripts, "script")
        except TimeoutError:
            message = f"time limit of {budget.time_limit:g} s reached; continuing with what arrived"
            self.state.errors.append(f"scout: {message}")
            self.emitter.log("scout", "warning", message)
        self._stats()
        pages, scripts_fetched = len(self.state.pages), len(self.state.scripts)
        return {
            "message": f"fetched {pages} pages and {scripts_fetched} scripts",
            "pages": [_page_summary(p) for p in self.state.pages],
            "scripts": [_page_summary(p) for p in self.state.scripts],
            "bytes": self.state.stats["bytes_downloaded"],
            "errors": [e for p in self.state.pages for e in p.errors],
        }

    async def _fetch_entry(self, fetcher: Fetcher) -> Page:
        try:
            entry = await fetcher.fetch(self.config.url)
        except RefusedTarget as exc:
            raise AuditFailed(f"target refused at a redirect: {exc.reason}") from exc
        except FetchError as exc:
            raise AuditFailed(f"the entry page could not be fetched: {exc.reason}") from exc
        self._fetched(entry, "page")
        self.state.pages.append(entry)
        await self.emitter.drain()
        return entry

    async def _probe(self, fetcher: Fetcher, entry: Page) -> None:
        """The two extra requests the header grade needs: http://host/ and a CORS preflight.

        http://host/ is only tried for an https audit on the default port, as the
        Observatory only tries port 80.
        """
        async with asyncio.TaskGroup() as group:
            cors = group.create_task(
                self._optional(fetcher.preflight(entry.final_url, PREFLIGHT_ORIGIN), "CORS")
            )
            root = _http_root(entry.url)
            http = group.create_task(self._optional(fetcher.fetch(root), "http")) if root else None
        self.state.cors = cors.result()
        self.state.http = http.result() if http is not None else None

    async def _optional(self, request: Awaitable[Page], what: str) -> Page | None:
        try:
            page = await request
        except FetchError as exc:  # the grade then judges without it, as if unanswered
            self.emitter.log("scout", "info", f"{what} not fetched: {exc}")
            return None
        self.state.stats["requests"] += 1 + len(page.redirects)
        return page

    async def _fetch_all(self, fetcher: Fetcher, urls: list[str], kind: str) -> None:
        """Fetch concurrently, keep the results in link order, report each as it arrives."""
        results: dict[str, Page] = {}
        limit = asyncio.Semaphore(self.config.limits.fetch_concurrency)

        async def one(url: str) -> None:
            async with limit:
                try:
                    results[url] = page = await fetcher.fetch(url)
                except FetchError as exc:
                    self.state.stats["fetch_errors"] += 1
                    self.state.errors.append(f"scout: not fetched: {exc}")
                    self.emitter.log("scout", "warning", f"{kind} not fetched: {exc}")
                    return
                self._fetched(page, kind)
                await self.emitter.drain()

        try:
            async with asyncio.TaskGroup() as group:
                for url in urls:
                    group.create_task(one(url))
        finally:
            target = self.state.pages if kind == "page" else self.state.scripts
            target.extend(results[u] for u in urls if u in results)

    def _fetched(self, page: Page, kind: str) -> None:
        stats = self.state.stats
        stats[f"{kind}s_fetched"] += 1
        stats["bytes_downloaded"] += len(page.body)
        stats["requests"] += 1 + len(page.redirects)
        via = f" via {len(page.redirects)} redirects" if page.redirects else ""
        self.emitter.log(
            "scout",
            "info",
            f"{kind} {page.final_url}: {page.status}, {len(page.body)} bytes{via},"
            f" {page.elapsed * 1000:.0f} ms",
        )
        for error in page.errors:
            self.state.errors.append(f"scout: {page.final_url}: {error}")
            self.emitter.log("scout", "warning", f"{page.final_url}: {error}")
        self._stats()

    def _stats(self) -> None:
        self.emitter.emit("stats_update", stats=dict(self.state.stats))

    # security ------------------------------------------------------------------------------

    async def _security(self) -> Summary:
        site, scores, failed = self.state.site, {}, []
        for name in self.config.security_modules:
            try:
                result = SECURITY_MODULES[name](site)
            except Exception as exc:  # one module's bug is that module's error
                failed.append(name)
                self.state.errors.append(f"security.{name}: {type(exc).__name__}: {exc}")
                self.emitter.log("security", "error", f"module {name} failed: {exc}")
                continue
            admitted = self._admit(result.findings)
            omitted = len(result.findings) - len(admitted)
            if omitted:
                details = {**result.details, "findings_omitted": omitted}
                result = replace(result, findings=tuple(admitted), details=details)
            self.state.modules[name] = result
            scores[name] = result.score
            self.emitter.emit("security_result", module=name, result=result.to_dict())
            self._emit_findings(admitted)
            await self.emitter.drain()
        entry = self.state.pages[0]
        return {
            "message": f"{len(scores)} modules run" + (f", {len(failed)} failed" if failed else ""),
            "modules": scores,
            "failed": failed,
            "status": entry.status,
            "headers": _headers(entry),
            "tls": entry.tls is not None,
        }

    def _findings(self, findings: tuple[Finding, ...] | list[Finding]) -> None:
        self._emit_findings(self._admit(findings))

    def _admit(self, findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
        """The findings that are new and within the budget; a repeat on another page is
        recorded as one more page of the finding already reported, not reported again."""
        admitted = []
        for finding in findings:
            pages = self.state.pages_of.get(finding.key)
            if pages is not None:
                if finding.url not in pages:
                    pages.append(finding.url)
            elif self.budget.admit(finding):
                self.state.pages_of[finding.key] = [finding.url]
                admitted.append(finding)
        return admitted

    def _emit_findings(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.state.findings.append(finding)
            self.state.stats["findings"] += 1
            self.emitter.finding(finding)

    # content -------------------------------------------------------------------------------

    async def _content(self) -> Summary:
        before = len(self.state.findings)
        analysed = 0
        for page in self.state.pages:
            if not page.is_html:
                continue
            analysed += 1
            try:
                for finding in iter_content(page):
                    self._findings([finding])
                    if self.budget.full:
                        break
            except Exception as exc:  # one page's trouble is logged, not fatal
                self.state.errors.append(f"content: {page.final_url}: {exc}")
                self.emitter.log("content", "error", f"{page.final_url}: analysis failed: {exc}")
            await self.emitter.drain()
        try:
            self._findings(site_content(self.state.site))
        except Exception as exc:  # as for one page: logged, not fatal
            self.state.errors.append(f"content: across pages: {exc}")
            self.emitter.log("content", "error", f"analysis across pages failed: {exc}")
        site_type = classify_site(self.state.site)
        self.state.site_type = site_type
        self.emitter.emit(
            "site_type", site_type=site_type.site_type, confidence=site_type.confidence
        )
        found = len(self.state.findings) - before
        return {
            "message": f"{analysed} pages analysed, {found} findings; {site_type.site_type}",
            "pages_analysed": analysed,
            "findings": found,
            "site_type": site_type.site_type,
        }

    async def _render(self, fetcher: Fetcher) -> Summary:
        from veritas.browser import load_settings, render_pages

        deadline = self.started + max(1.0, self.config.budget.time_limit - ANALYSIS_RESERVE)
        settings = load_settings(os.environ)
        state = self.state

        def add(finding: Finding) -> None:
            self._findings([finding])

        return await render_pages(
            state.pages,
            resolver=fetcher.resolver,
            settings=settings,
            emitter=self.emitter,
            add_finding=add,
            known=state.findings,
            deadline=deadline,
            allow_targets=fetcher.allow_targets,
        )

    # intel ---------------------------------------------------------------------------------

    async def _intel(self) -> Summary:
        report = gather_intel(self.state.site, self.state.addresses)
        self.state.intel = report
        self._findings(report.findings)
        return {
            "message": f"{len(report.findings)} intelligence findings",
            **dict(report.facts),
        }

    # judge ---------------------------------------------------------------------------------

    def _judge(self) -> dict[str, Any]:
        state, config = self.state, self.config
        findings = [self._with_pages(f) for f in state.findings]
        evidence = Evidence(
            security=list(state.modules.values()),
            findings=findings,
            site_type=state.site_type or SiteType("other", 0.0),
            intel=state.intel or IntelReport({}),
            pages_scanned=len(state.pages),
            errors=state.errors,
            incomplete=unread(state.pages, state.errors),
            omitted=self.budget.omitted.total(),
        )
        mode: VerdictMode = "expert" if config.verdict_mode == "expert" else "simple"
        verdict = judge(evidence, mode)
        return {
            **verdict.to_dict(),
            "findings": [f.to_dict() for f in findings],
            "findings_omitted": self.budget.report(),
            "security_results": {n: r.to_dict() for n, r in state.modules.items()},
            "site_type": evidence.site_type.site_type,
            "site_type_confidence": evidence.site_type.confidence,
            "intel": dict(evidence.intel.facts),
            "pages_scanned": len(state.pages),
            "scripts_scanned": len(state.scripts),
            "elapsed_seconds": round(time.monotonic() - self.started, 3),
            "errors": list(state.errors),
            "url": config.url,
            "final_url": state.pages[0].final_url,
            "tier": config.tier,
            "verdict_mode": config.verdict_mode,
            "stats": dict(state.stats),
        }

    def _with_pages(self, finding: Finding) -> Finding:
        pages = self.state.pages_of.get(finding.key, [])
        return replace(finding, pages=tuple(pages)) if len(pages) > 1 else finding


# Errors worth telling a reader about: what stopped the scout from reading everything.
_SCOUT_LIMITS = ("time limit", "not fetched")
MAX_UNREAD = 10


def unread(pages: list[Page], errors: list[str]) -> list[str]:
    """What the audit could not read: pages cut short (size, time, a dripping server) and the
    scout's own time limit. The verdict's confidence and narrative say so."""
    cut = [f"{p.final_url}: {e}" for p in pages if p.truncated for e in p.errors[:1]]
    stopped = [e for e in errors if e.startswith("scout:") and any(w in e for w in _SCOUT_LIMITS)]
    return list(dict.fromkeys([*cut, *stopped]))[:MAX_UNREAD]


def _loop_time(monotonic_deadline: float) -> float:
    """A `time.monotonic()` instant on the event loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


def _http_root(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port is not None or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}/"


def _headers(page: Page) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in page.headers:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _page_summary(page: Page) -> dict[str, Any]:
    return {
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "bytes": len(page.body),
        "truncated": page.truncated,
        "redirects": [
            {"url": h.url, "status": h.status, "location": h.location} for h in page.redirects
        ],
        "ip": page.ip,
        "elapsed": round(page.elapsed, 3),
        "tls": page.tls.version if page.tls is not None else None,
        "errors": list(page.errors),
    }
