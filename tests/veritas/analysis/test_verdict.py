"""The verdict on whole sites: weighted signals, named caps, words in both modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.veritas.analysis.sites import (
    clean_site,
    miner_site,
    phishing_site,
    redirect_site,
    shop_site,
)
from veritas import eval as evaluation
from veritas.analysis import SECURITY_MODULES, analyse_content, classify_site, gather_intel
from veritas.page import Site
from veritas.scoring import Evidence, Verdict, VerdictMode, judge


def audit(site: Site, mode: VerdictMode = "simple") -> tuple[Verdict, Evidence]:
    modules = [module(site) for module in SECURITY_MODULES.values()]
    intel = gather_intel(site, [])
    findings = [f for m in modules for f in m.findings]
    findings += [f for p in site.pages for f in analyse_content(p)]
    evidence = Evidence(modules, findings, classify_site(site), intel, len(site.pages))
    return judge(evidence, mode), evidence


def test_clean_site_is_trusted_without_medium_findings() -> None:
    verdict, evidence = audit(clean_site())
    assert verdict.risk_level == "trusted"
    assert verdict.trust_score >= 90
    assert verdict.caps == []
    assert all(f.severity in ("info", "low") for f in evidence.findings)


def test_pushy_shop_is_not_trusted() -> None:
    verdict, _ = audit(shop_site())
    assert verdict.risk_level in ("suspicious", "high_risk")
    assert verdict.signal_scores["content"] < 50
    assert "any_high_finding" in [c["rule"] for c in verdict.caps]


def test_credential_phishing_is_likely_fraudulent_by_named_caps() -> None:
    verdict, _ = audit(phishing_site())
    assert verdict.risk_level == "likely_fraudulent"
    rules = [c["rule"] for c in verdict.caps]
    assert "phishing_verdict" in rules
    assert "credentials_posted_to_another_domain" in rules


def test_cryptominer_caps_the_score() -> None:
    verdict, _ = audit(miner_site())
    assert "cryptominer" in [c["rule"] for c in verdict.caps]
    assert verdict.trust_score <= 25


def test_redirect_chain_with_downgrade_is_not_trusted() -> None:
    verdict, _ = audit(redirect_site())
    assert verdict.trust_score < 70


def test_simple_and_expert_words_differ_and_come_from_evidence() -> None:
    simple, _ = audit(phishing_site(), "simple")
    expert, _ = audit(phishing_site(), "expert")
    assert "Do not type any password" in " ".join(simple.recommendations)
    assert "Cap phishing_verdict" in expert.narrative
    assert "credentials_to_other_domain" in expert.narrative
    assert simple.to_dict()["verdict_mode"] == "simple"
    assert set(simple.to_dict()) >= {
        "trust_score",
        "risk_level",
        "signal_scores",
        "narrative",
        "recommendations",
        "caps",
    }


def test_clean_site_narrative_says_nothing_worrying() -> None:
    verdict, _ = audit(clean_site())
    assert "nothing that suggests a scam" in verdict.narrative


@pytest.mark.parametrize("mode", ["simple", "expert"])
def test_recommendations_are_never_empty(mode: VerdictMode) -> None:
    verdict, _ = audit(clean_site(), mode)
    assert verdict.recommendations


def test_eval_commands_end_with_the_metrics_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "dp.tsv"
    texts.write_text(
        "page_id\ttext\tlabel\tPattern Category\n"
        "1\tOnly 1 left in stock - order now\t1\tScarcity\n"
        "2\tAbout our company\t0\tNot Dark Pattern\n"
    )
    assert evaluation.main(["darkpatterns", str(texts)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "f1=1.000 precision=1.000 recall=1.000 fpr=0.000 n=2"
    urls = tmp_path / "urls.csv"
    urls.write_text("url,status\nhttps://www.wikipedia.org/,legitimate\n")
    assert evaluation.main(["phishing", str(urls)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "accuracy=1.000 precision=0.000 recall=0.000 fpr=0.000 n=1"
