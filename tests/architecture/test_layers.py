"""The shape of chalicelib (docs/architecture.md): layers that import only downwards (checked
by import-linter's contract in pyproject.toml), no import loop counting imports inside
functions, and an import inside a function only where it keeps cold start low, saying so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.architecture.imports import cycles, graph, imports

REPO = Path(__file__).resolve().parents[2]
CHALICELIB = REPO / "chalicelib"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def planted(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of chalicelib with `line` added at the end of `module` (a path in it)."""
    shutil.copytree(CHALICELIB, tmp_path / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "chalicelib" / module).open("a") as file:
        file.write(f"\n{line}\n")
    return tmp_path


def test_every_layer_imports_only_the_layers_below_it() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_layer_contract(tmp_path: Path) -> None:
    # GIVEN the platform layer importing the API layer above it
    copy = planted(tmp_path, "platform/clock.py", "from chalicelib.api import http  # noqa")
    # WHEN the contract is checked
    result = lint_imports(copy)
    # THEN it fails, naming the import
    assert result.returncode != 0
    assert "chalicelib.platform.clock -> chalicelib.api.http" in result.stdout


def test_no_module_imports_itself_through_others_even_inside_functions() -> None:
    assert cycles(graph(CHALICELIB)) == []


def test_a_loop_closed_inside_a_function_is_found(tmp_path: Path) -> None:
    # GIVEN contacts.service importing a module that imports it, inside a function
    copy = planted(
        tmp_path,
        "contacts/service.py",
        "def _late() -> None:\n    from chalicelib.contacts import sync  # noqa",
    )
    # THEN the loop is reported
    loops = cycles(graph(copy / "chalicelib"))
    assert any({"chalicelib.contacts.service", "chalicelib.contacts.sync"} <= set(loop) for loop in loops)


def test_imports_inside_functions_say_they_are_for_cold_start() -> None:
    extra = {"app": REPO / "app.py"}
    unexplained = [
        f"{item.module}:{item.line} {item.target}"
        for item in imports(CHALICELIB, extra)
        if item.in_function and "cold start" not in item.comment
    ]
    assert unexplained == []
