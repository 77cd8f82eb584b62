"""Users' checks registered as entry points of an installed package show up in the report.

The package is made in ``tmp_path``: a module and a ``<name>-0.1.dist-info`` folder whose
entry_points.txt registers its checks in the group ``fma_harness.checks``; putting ``tmp_path``
on ``sys.path`` installs it as far as :mod:`importlib.metadata` is concerned.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from harness.checks import registry
from harness.checks.base import CheckResult, save_checks
from harness.checks.registry import DATA, RUN, DataInputs
from harness.report.markdown import collect_run, render_run

MODULE = "fma_harness_user_checks_demo"

CHECKS = """
from harness.checks.base import CheckResult


def run_files(run_dir):
    n = len(list(run_dir.iterdir()))
    return CheckResult("house rules", "run_files", "WARN", f"{n} files in the run directory")


def broken(run_dir):
    raise RuntimeError("boom")


def tracks_seen(inputs):
    return [CheckResult("house rules", "tracks_seen", "PASS", f"{len(inputs.tracks)} tracks")]


tracks_seen.stage = "data"


def odd_stage(run_dir):
    return []


odd_stage.stage = "training"
"""

ENTRY_POINTS = f"""
[fma_harness.checks]
run_files = {MODULE}:run_files
broken = {MODULE}:broken
tracks_seen = {MODULE}:tracks_seen
missing = {MODULE}:not_there
odd_stage = {MODULE}:odd_stage
results = {MODULE}:run_files
"""


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A package registering user checks, installed on sys.path for the test."""
    (tmp_path / f"{MODULE}.py").write_text(CHECKS, "utf-8")
    dist_info = tmp_path / f"{MODULE}-0.1.dist-info"
    dist_info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 0.1\n"
    (dist_info / "METADATA").write_text(metadata, "utf-8")
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS, "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh_entry_points()
    yield tmp_path
    sys.modules.pop(MODULE, None)
    registry.refresh_entry_points()  # the next read no longer sees the package


def _minimal_run(run_dir) -> None:
    """A run directory with stored data checks and no model."""
    run_dir.mkdir()
    save_checks([CheckResult("audio", "decode_status", "PASS", "all ok")], run_dir / "checks.json")


def test_entry_points_join_the_registry_after_the_builtins(user_package):
    entries = registry.check_entries()
    users = [e for e in entries if not e.builtin]
    assert entries[: len(registry.BUILTIN_CHECKS)] == list(registry.BUILTIN_CHECKS)
    assert {e.name: e.stage for e in users} == {
        "run_files": RUN,
        "broken": RUN,
        "tracks_seen": DATA,
        "missing": RUN,
        "odd_stage": RUN,
        "results": RUN,
    }
    problems = {e.name: e.problem for e in users if e.problem}
    assert set(problems) == {"missing", "odd_stage", "results"}
    assert "not_there" in problems["missing"]
    assert "'training'" in problems["odd_stage"]
    assert "built-in" in problems["results"]


def test_user_checks_in_the_rendered_report(user_package, tmp_path):
    run_dir = tmp_path / "run1"
    _minimal_run(run_dir)
    md_path, html_path = render_run(run_dir)
    md = md_path.read_text("utf-8")
    assert "## House rules" in md and "### run_files — WARN" in md
    assert "files in the run directory" in md
    assert "### broken — FAIL" in md and "RuntimeError: boom" in md
    assert "### missing — FAIL" in md and "### odd_stage — FAIL" in md
    assert "tracks_seen" not in md  # a data check runs with the data checks, not the report
    html = html_path.read_text("utf-8")
    assert "run_files" in html and "RuntimeError: boom" in html
    results, _ = collect_run(run_dir)
    keys = [r.key for r in results]
    # stored data checks, the built-in run checks, then the users' in entry point order
    assert keys[0] == "audio/decode_status"
    assert keys.index("results/comparison") < keys.index("results/artist_errors")
    assert keys[-5:] == [
        "house rules/run_files",
        "user checks/broken",
        "user checks/missing",
        "user checks/odd_stage",
        "user checks/results",
    ]


def test_user_data_check_gets_the_data_inputs(user_package):
    (entry,) = [e for e in registry.check_entries(DATA) if not e.builtin]
    inputs = DataInputs(
        tracks=pd.DataFrame(index=[1, 2, 3]),
        splits=pd.Series({1: "training", 2: "training", 3: "test"}),
        status=pd.DataFrame({"status": ["ok"] * 3}, index=[1, 2, 3]),
    )
    (result,) = registry.run_entry(entry, inputs)
    assert (result.key, result.verdict, result.finding) == (
        "house rules/tracks_seen",
        "PASS",
        "3 tracks",
    )
