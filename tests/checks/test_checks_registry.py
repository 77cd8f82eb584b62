"""The check registry: built-in families in report order, lazy targets, the data inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from harness.checks import registry
from harness.checks.base import CheckResult
from harness.checks.registry import DATA, RUN, CheckEntry, DataInputs
from harness.errors import ParameterError

DATA_FAMILIES = ["audio", "duplicates", "leakage", "labels", "mislabels", "features"]
RUN_FAMILIES = [
    "failures",
    "model_sanity",
    "results",
    "seeds",
    "tagging",
    "artist_errors",
    "style_map",
    "embedding_duplicates",
    "robustness",
    "preparation",
    "stage_times",
]


@pytest.fixture
def no_entry_points(monkeypatch):
    """The registry as if no installed package registered a check."""
    monkeypatch.setattr(registry, "entry_point_targets", lambda group: {})


def test_builtin_families_in_report_order(no_entry_points):
    assert [e.name for e in registry.BUILTIN_CHECKS] == DATA_FAMILIES + RUN_FAMILIES
    assert [e.name for e in registry.check_entries(DATA)] == DATA_FAMILIES
    assert [e.name for e in registry.check_entries(RUN)] == RUN_FAMILIES
    assert all(e.builtin and not e.problem for e in registry.check_entries())
    with pytest.raises(ParameterError, match="unknown check stage"):
        registry.check_entries("model")


def test_every_builtin_target_resolves():
    from harness.registry import load_target

    for entry in registry.BUILTIN_CHECKS:
        assert callable(load_target(entry.target)), entry.target


def test_importing_the_registry_imports_no_check_module():
    code = (
        "import sys, harness.checks.registry; "
        "print(sorted(m for m in sys.modules if m.startswith('harness.checks.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['harness.checks.base', 'harness.checks.registry']"


def test_data_inputs_default_groups_and_shared_values():
    splits = pd.Series({1: "training", 2: "test"})
    inputs = DataInputs(tracks=pd.DataFrame(index=[1, 2]), splits=splits, status=pd.DataFrame())
    assert inputs.groups is splits
    calls = []
    assert inputs.shared("x", lambda: calls.append(1) or 42) == 42
    assert inputs.shared("x", lambda: calls.append(1) or 0) == 42
    assert calls == [1]


def test_run_entry_normalises_results_and_guards_user_checks(monkeypatch):
    one = CheckResult("house", "one", "PASS", "fine")
    targets = {"pkg:one": lambda _: one, "pkg:many": lambda _: [one, one], "pkg:none": lambda _: 3}
    monkeypatch.setattr(registry, "load_target", targets.__getitem__)
    assert registry.run_entry(CheckEntry("one", "pkg:one", RUN), None) == [one]
    assert registry.run_entry(CheckEntry("many", "pkg:many", RUN), None) == [one, one]
    with pytest.raises(TypeError, match="returned int"):  # a built-in's error propagates
        registry.run_entry(CheckEntry("none", "pkg:none", RUN), None)
    (failed,) = registry.run_entry(CheckEntry("none", "pkg:none", RUN, builtin=False), None)
    assert (failed.family, failed.name, failed.verdict) == (registry.USER_FAMILY, "none", "FAIL")
    assert "pkg:none" in failed.finding and "TypeError: returned int" in failed.finding


def _counted(run_dir):
    warnings.warn(f"counted the files of {run_dir.name}", UserWarning, stacklevel=1)
    return CheckResult("results", "counted", "PASS", str(len(list(run_dir.iterdir()))))


def _listed(run_dir):
    return [CheckResult("results", "listed", "PASS", ",".join(sorted(os.listdir(run_dir))))]


def _whole(run_dir):
    return [_counted(run_dir), *_listed(run_dir)]


_whole.parts = (_counted, _listed)


def _refusing(run_dir):
    raise ValueError(f"{run_dir.name} is not a run")


@pytest.fixture
def two_part_builtin(monkeypatch, no_entry_points):
    """The registry's run stage as one built-in check made of two parts (this module's)."""
    entries = (CheckEntry("results", f"{__name__}:_whole", RUN),)
    monkeypatch.setattr(registry, "BUILTIN_CHECKS", entries)


def test_side_by_side_parts_give_the_results_and_warnings_of_one_at_a_time(
    tmp_path, two_part_builtin
):
    (tmp_path / "a.txt").write_text("a")
    by_jobs = {}
    for n_jobs in (1, 2):
        with pytest.warns(UserWarning, match=f"counted the files of {tmp_path.name}"):
            by_jobs[n_jobs] = registry.run_checks(RUN, tmp_path, n_jobs=n_jobs)
    assert [r.to_dict() for r in by_jobs[2]] == [r.to_dict() for r in by_jobs[1]]
    assert [r.name for r in by_jobs[2]] == ["counted", "listed"]


def test_a_built_in_part_that_raises_stops_the_side_by_side_run(
    tmp_path, monkeypatch, no_entry_points
):
    entries = (
        CheckEntry("results", f"{__name__}:_whole", RUN),
        CheckEntry("robustness", f"{__name__}:_refusing", RUN),
    )
    monkeypatch.setattr(registry, "BUILTIN_CHECKS", entries)
    with pytest.raises(ValueError, match="is not a run"):
        registry.run_checks(RUN, tmp_path, n_jobs=2)


def _changed_verdict(run_dir):
    result = CheckResult("house", "changed", "PASS", "fine")
    result.verdict = "pass"  # after the constructor checked it
    return result


def _figure_object(run_dir):
    return CheckResult("house", "figure", "PASS", "fine", figures=[object()])


def _clashing(run_dir):
    return CheckResult("results", "counted", "PASS", "all fine, says the user")


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("_changed_verdict", "returned house/changed with the verdict 'pass', not one of PASS"),
        ("_figure_object", "returned house/figure with figures of type object; a figure is PNG"),
        ("_clashing", "returned results/counted, a built-in check's result; give its results"),
    ],
)
def test_a_malformed_user_result_is_its_fail_and_the_rest_goes_on(
    tmp_path, monkeypatch, target, problem
):
    # a bad verdict or figure crashed the report (KeyError, TypeError): no report was written
    builtin = (CheckEntry("results", f"{__name__}:_counted", RUN),)
    monkeypatch.setattr(registry, "BUILTIN_CHECKS", builtin)
    monkeypatch.setattr(
        registry, "entry_point_targets", lambda group: {"mine": f"{__name__}:{target}"}
    )
    with pytest.warns(UserWarning):
        results = registry.run_checks(RUN, tmp_path)
    assert [r.key for r in results] == ["results/counted", f"{registry.USER_FAMILY}/mine"]
    assert results[1].verdict == "FAIL" and problem in results[1].finding
    assert [r.to_dict() for r in results]  # serialisable: checks.json can be written


def test_user_checks_that_cannot_run_are_fails_of_the_data_checklist_too(monkeypatch):
    # they became run-stage entries, so `fma-harness check` (data stage only) never showed them
    targets = {
        "missing": "no_such_pkg.checks:thing",
        "number": f"{__name__}:NOT_CALLABLE",
        "audio": f"{__name__}:_counted",
        "fine": f"{__name__}:_counted",
    }
    monkeypatch.setattr(registry, "entry_point_targets", lambda group: targets)
    failed = registry.unusable_user_checks()
    assert [(r.name, r.verdict) for r in failed] == [
        ("missing", "FAIL"),
        ("number", "FAIL"),
        ("audio", "FAIL"),
    ]
    assert "cannot be loaded" in failed[0].finding and "is not callable" in failed[1].finding
    assert "reuses the name of a built-in check" in failed[2].finding


NOT_CALLABLE = 42
