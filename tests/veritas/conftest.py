"""Fixtures of the auditor's tests: one local test site for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.veritas.site import serve_site


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    with serve_site() as url:
        yield url
