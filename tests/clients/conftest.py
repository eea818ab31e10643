"""One real server and one target site per module of client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.service import Service, run_service
from tests.clients.target import serve_target


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with serve_target(delay=0.05) as url:
        yield url


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with run_service(tmp_path_factory.mktemp("server")) as running:
        yield running
