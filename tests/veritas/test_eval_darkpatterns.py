"""`python -m veritas.eval darkpatterns`: held-out only if the model never saw the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from veritas.analysis.darkpatterns import training_record
from veritas.eval import main, segments
from veritas.eval.corpus import sha256

TEXTS = (
    "page_id\ttext\tlabel\tPattern Category\n"
    "1\tHurry! Only 2 left in stock\t1\tScarcity\n"
    "2\tAbout our company\t0\tNot Dark Pattern\n"
)


def test_a_file_the_model_never_saw_is_reported_as_held_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "texts.tsv"
    texts.write_text(TEXTS)
    assert training_record(sha256(texts.read_bytes())) is None
    assert main(["darkpatterns", str(texts)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("held-out")
    assert lines[-1] == "f1=1.000 precision=1.000 recall=1.000 fpr=0.000 n=2"


def test_training_data_is_judged_by_the_fold_detectors_and_labelled_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = tmp_path / "texts.tsv"
    texts.write_text(TEXTS)
    digest = sha256(texts.read_bytes())

    def recorded(wanted: str) -> dict[str, Any] | None:
        return {"file": texts.name} if wanted == digest else None

    # Stands in for the record training writes for its own files.
    monkeypatch.setattr(segments, "training_record", recorded)
    assert main(["darkpatterns", str(texts)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CROSS-VALIDATED")
    assert "held-out" not in out
