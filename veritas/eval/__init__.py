"""Measure the analysers on labelled data: `python -m veritas.eval COMMAND FILE`.

    darkpatterns TSV      the text detector on labelled segments (Yada et al. 2022 format)
    phishing CSV          the URL model on labelled addresses
    pages MANIFEST        the whole auditor on saved real pages, page by page
    pages MANIFEST --planted TSV   the same, with dark-pattern texts planted into shop pages

Each command runs the very code the auditor runs, prints a breakdown, and ends with one
line of metrics so that scripts can take the last line.
"""

from veritas.eval.cli import main
from veritas.eval.metrics import Confusion

__all__ = ["Confusion", "main"]
