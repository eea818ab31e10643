"""`python -m veritas.eval pages`: the whole auditor on saved pages, figures per kind.

The pages are written here, never taken from a data set.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from veritas.eval import main
from veritas.eval.planted import plant

SHOP = """<html><head><title>Oak Desk | Woodshop</title></head><body>
<h1>Oak Desk</h1><p class="price">$240.00</p><button>Add to basket</button>
<p class="stock">Only 2 left in stock.</p>
<p>Delivery $15.00. Posted on March 10 at 08:05.</p>
<form><textarea name="review"></textarea><p>10000 characters left</p></form>
<label><input type="checkbox" name="news"> Send me the newsletter</label>
<ul><li>Desks</li><li>Chairs</li><li>Lamps</li></ul></body></html>"""

ARTICLE = """<html><head><title>Timber prices rise</title></head><body><article>
<h1>Timber prices rise as builders face high demand</h1>
<p>Published 2024-03-10 08:05. Suppliers said only 3 mills are left in the region, and
the high demand for oak is expected to last through the summer.</p></article></body></html>"""

KIT = """<html><head><title>Sign in</title></head><body><h1>Sign in to your account</h1>
<form action="collect.php" method="post"><input name="email"><input type="password" name="pw">
<button>Sign in</button></form></body></html>"""


def _manifest(tmp_path: Path) -> Path:
    pages = tmp_path / "pages"
    pages.mkdir()
    rows = []
    for n, (html, label, kind, url, claims) in enumerate(
        [
            (SHOP, "legit", "shop_product", "https://woodshop.example.com/desk",
             ["low_stock: 'Only 2 left in stock.' (Woodshop)"]),
            (ARTICLE, "legit", "news_article", "https://news.example.org/timber", []),
            (KIT, "phish", "phish_kit", "https://login-check.example.net/", []),
        ]
    ):  # fmt: skip
        body = html.encode()
        (pages / f"{n}.html.gz").write_bytes(gzip.compress(body))
        rows.append(
            {
                "id": f"test/{n}", "file": f"pages/{n}.html.gz", "label": label, "kind": kind,
                "url": url, "expect_site_type": "", "pressure_claims": claims,
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )  # fmt: skip
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def _metrics(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def test_pages_reports_the_rows_per_kind_and_ends_with_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pages", str(_manifest(tmp_path)), "--jobs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("held-out")
    assert "shop_product:" in lines and "news_article:" in lines and "phish_kit:" in lines
    metrics = _metrics(lines[-1])
    assert metrics["claims_found"] == "1/1"
    assert metrics["legit_false_dark"] == "0.0000"
    assert metrics["legit"] == "2" and metrics["phish"] == "1"


def test_planted_texts_are_found_in_page_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "texts.tsv"
    texts.write_text(
        "page_id\ttext\tlabel\tPattern Category\n"
        "1\tHurry! Only 3 left in stock\t1\tScarcity\n"
        "2\tJane in Leeds purchased this lamp 4 minutes ago\t1\tSocial Proof\n"
        "3\tOur story\t0\tNot Dark Pattern\n"
    )
    assert main(["pages", str(_manifest(tmp_path)), "--planted", str(texts), "--jobs", "1"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert _metrics(last) == {"planted_recall": "1.0000", "planted": "2", "found": "2"}


def test_planting_adds_visible_blocks_and_keeps_the_page() -> None:
    planted = plant(SHOP.encode(), ["First text", "Second & last"]).decode()
    assert "<p>First text</p>" in planted and "<p>Second &amp; last</p>" in planted
    assert "Oak Desk" in planted
