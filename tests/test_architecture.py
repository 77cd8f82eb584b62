"""The layout's promises: import contracts hold, no private reach-ins, a small top level."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_TREES = ("harness", "models", "baselines", "benchmarks", "tests")


def _lint_imports() -> str:
    """The lint-imports executable of this interpreter's environment."""
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed; install the dev extra (make test does)")
    return found


def test_import_contracts_hold():
    # the contracts live in pyproject.toml: layers, forbidden imports, no cycles
    done = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout
    assert "No import cycle between sibling packages or modules KEPT" in done.stdout


def test_harness_has_at_most_eight_top_level_modules():
    modules = sorted(p.name for p in (REPO / "harness").glob("*.py"))
    assert len(modules) <= 8, modules


def _private_reach_ins(path: Path) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self``/``cls``: private state of another object."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reaches_into_private_attributes():
    offenders = [
        hit
        for tree in SOURCE_TREES
        for path in sorted((REPO / tree).rglob("*.py"))
        for hit in _private_reach_ins(path)
    ]
    assert offenders == []
