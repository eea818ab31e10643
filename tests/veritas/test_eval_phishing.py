"""`python -m veritas.eval phishing`: in-sample figures are never shown as an accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from veritas.eval import main
from veritas.eval import phishing as command
from veritas.eval.corpus import sha256

URLS = (
    "url,status\n"
    "https://www.wikipedia.org/,legitimate\n"
    "http://secure-login.paypal.com.account-verify.example.tk/signin.php,phishing\n"
)


def test_a_file_the_url_model_never_saw_is_reported_as_held_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls.csv"
    urls.write_text(URLS)
    assert main(["phishing", str(urls)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("held-out")
    assert lines[-1].startswith("accuracy=") and lines[-1].endswith("n=2")


def test_the_training_file_ends_with_its_cross_validated_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = tmp_path / "urls.csv"
    urls.write_text(URLS)
    held_out = {"tp": 1, "fp": 1, "tn": 0, "fn": 0}

    def model(name: str) -> Mapping[str, Any]:
        # Stands in for the record training writes beside the weights.
        return {"training": {"sha256": sha256(urls.read_bytes()), "cross_validated": held_out}}

    monkeypatch.setattr(command, "load", model)
    assert main(["phishing", str(urls)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("IN-SAMPLE, not an accuracy figure")
    assert lines[-3].startswith("CROSS-VALIDATED")
    assert lines[-2:] == [
        "tp=1 fp=1 tn=0 fn=0",
        "accuracy=0.500 precision=0.500 recall=1.000 fpr=1.000 n=2",
    ]
