"""The failures family: failed models and submissions read from leaderboard.csv, first in the
report."""

from __future__ import annotations

import pandas as pd

from harness.checks import registry
from harness.checks.base import CheckResult, order_results
from harness.checks.registry import RUN
from harness.checks.runs import failures


def _board(run_dir, rows: list[dict]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(run_dir / "leaderboard.csv", index=False)


def test_failed_models_are_one_fail_naming_model_error_and_traceback(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    _board(
        run_dir,
        [
            {"model": "prior", "status": "ok", "val_log_loss": 2.08},
            {"model": "knn", "status": "failed: ValueError: k must be >= 1"},
            {"model": "cnn", "status": "failed: RuntimeError: " + "x" * 400},
        ],
    )
    assert failures.failed_models(run_dir) == {
        "knn": "ValueError: k must be >= 1",
        "cnn": "RuntimeError: " + "x" * 400,
    }
    (result,) = failures.from_run(run_dir)
    assert (result.family, result.name, result.verdict) == ("failures", "models", "FAIL")
    assert result.finding.startswith("2 of 3 models failed: knn: ValueError: k must be >= 1")
    assert str(run_dir / "models" / "knn" / "error.txt") in result.finding
    assert "..." in result.finding and len(result.finding) < 600  # a long error is cut
    assert list(result.evidence["model"]) == ["knn", "cnn"]
    assert result.evidence.loc[1, "traceback"] == str(run_dir / "models" / "cnn" / "error.txt")
    assert "error.txt" in result.action


def test_every_model_trained_is_a_pass_and_no_leaderboard_a_skip(tmp_path):
    _board(tmp_path / "ok", [{"model": "prior", "status": "ok"}])
    assert [r.verdict for r in failures.from_run(tmp_path / "ok")] == ["PASS"]
    assert failures.failed_models(tmp_path / "ok") == {}
    (tmp_path / "empty").mkdir()
    assert [r.verdict for r in failures.from_run(tmp_path / "empty")] == ["SKIP"]
    assert failures.failed_models(tmp_path / "empty") == {}


def test_a_failed_submission_is_a_warning(tmp_path):
    rows = [
        {"model": "prior", "status": "ok", "submission_note": "failed: DataError: bad key"},
        {"model": "svm", "status": "ok", "submission_note": "not scored: no answer key"},
        {"model": "knn", "status": "ok"},
    ]
    _board(tmp_path, rows)
    models, submissions = failures.from_run(tmp_path)
    assert models.verdict == "PASS"
    assert (submissions.name, submissions.verdict) == ("submissions", "WARN")
    assert submissions.finding == (
        "1 submissions could not be written or scored: prior: failed: DataError: bad key"
    )


def test_failures_come_first_in_the_registry_and_the_report():
    run_entries = [e.name for e in registry.BUILTIN_CHECKS if e.stage == RUN]
    assert run_entries[0] == "failures"
    mixed = [
        CheckResult("audio", "decode_status", "PASS", "ok"),
        CheckResult("results", "comparison", "SKIP", "no model predictions in the run"),
        CheckResult("failures", "models", "FAIL", "1 of 1 models failed"),
    ]
    assert [r.family for r in order_results(mixed)] == ["failures", "audio", "results"]
