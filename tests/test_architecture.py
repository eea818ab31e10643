"""The dependency direction: protocol <- veritas, protocol <- server, nothing between those two."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "veritas", "server")


def imports_in(source: str) -> Iterator[str]:
    """Every absolute import, wherever it stands (module level, functions, TYPE_CHECKING)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def imported_modules(package: str) -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imports_in(path.read_text(encoding="utf-8")):
            yield path, module


def top(module: str) -> str:
    return module.split(".", 1)[0]


def violations(package: str, allowed: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in imported_modules(package)
        if top(module) not in allowed
    ]


def test_protocol_imports_only_the_standard_library_and_msgpack() -> None:
    allowed = set(sys.stdlib_module_names) | {"msgpack", "protocol"}
    assert violations("protocol", allowed) == []


@pytest.mark.parametrize(("package", "forbidden"), [("veritas", "server"), ("server", "veritas")])
def test_veritas_and_server_never_import_each_other(package: str, forbidden: str) -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in imported_modules(package)
        if top(module) == forbidden
    ]
    assert found == []


def test_no_package_edits_sys_path() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "sys.path." in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_the_walker_sees_imports_nested_in_functions_and_from_forms() -> None:
    source = "def f():\n    from server.api.app import create_app\n    import veritas.fetch, os\n"
    assert list(imports_in(source)) == ["server.api.app", "veritas.fetch", "os"]
