"""The robustness family of the report, on constructed robustness files: the table, the figure,
the verdict rule (mild changes only), the failed clips, and SKIP without a robustness stage."""

from __future__ import annotations

import json

import pandas as pd

from harness.checks.base import CheckResult
from harness.checks.registry import RUN, check_entries, run_entry
from harness.checks.runs.robustness import MILD_ACCURACY_DROP
from harness.checks.runs.robustness import from_run as robustness_checks

PNG = b"\x89PNG"
CHANGES = ["pitch+2", "stretch1.1", "noise20dB", "mp3_64k", "gain-12dB"]


def _table(deltas: dict[tuple[str, str], float]) -> pd.DataFrame:
    """robustness.csv rows: 40 clips, clean accuracy 0.8 and log loss 0.6 for every model."""
    rows = []
    for (model, change), delta in deltas.items():
        rows.append(
            {
                "model": model,
                "change": change,
                "n_clips": 39,
                "n_failed": 1,
                "log_loss": 0.6 - delta,
                "accuracy": 0.8 + delta,
                "clean_log_loss": 0.6,
                "clean_accuracy": 0.8,
                "delta_log_loss": -delta,
                "delta_accuracy": delta,
            }
        )
    return pd.DataFrame(rows)


def _write(run_dir, deltas, *, failures=None):
    _table(deltas).to_csv(run_dir / "robustness.csv", index=False)
    failures = failures if failures is not None else []
    pd.DataFrame(failures, columns=["key", "change", "error"]).to_csv(
        run_dir / "robustness_failures.csv", index=False
    )
    info = {"changes": CHANGES, "mild": ["noise20dB", "mp3_64k", "gain-12dB"], "skipped": None}
    (run_dir / "robustness.json").write_text(json.dumps(info), "utf-8")


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    assert all(r.family == "robustness" for r in results)
    return {r.name: r for r in results}


def test_within_the_limit_under_mild_changes_passes_whatever_pitch_does(tmp_path):
    deltas = {(m, c): -0.025 for m in ("mfcc-logreg", "cnn") for c in CHANGES}
    deltas[("cnn", "pitch+2")] = -0.5  # a strong change may cost a lot: shown, never a warning
    _write(tmp_path, deltas)
    result = _by_name(robustness_checks(tmp_path))["degradation"]
    assert result.verdict == "PASS"
    assert "largest accuracy loss: cnn under pitch+2" in result.finding
    assert "every model within 10 points under the mild changes" in result.finding
    table = result.evidence
    assert list(table.index) == CHANGES
    assert table.loc["pitch+2", "cnn Δ accuracy"] == -0.5
    assert table.loc["gain-12dB", "mild"] == "yes" and table.loc["pitch+2", "mild"] == ""
    assert {"mfcc-logreg Δ log loss", "cnn Δ log loss", "clips"} <= set(table.columns)
    assert len(result.figures) == 1 and result.figures[0].startswith(PNG)


def test_a_model_losing_more_than_the_limit_under_a_mild_change_warns(tmp_path):
    deltas = {(m, c): 0.0 for m in ("mfcc-logreg", "cnn") for c in CHANGES}
    deltas[("cnn", "gain-12dB")] = -(MILD_ACCURACY_DROP + 0.025)
    deltas[("mfcc-logreg", "mp3_64k")] = -MILD_ACCURACY_DROP  # at the limit: not beyond it
    _write(tmp_path, deltas)
    result = _by_name(robustness_checks(tmp_path))["degradation"]
    assert result.verdict == "WARN"
    assert "cnn (gain-12dB, -12 points)" in result.finding
    assert "mfcc-logreg (mp3" not in result.finding
    assert result.action


def test_failed_clips_are_listed(tmp_path):
    failures = [
        (1234, "mp3_64k", "LibsndfileError: bad sample rate"),
        (99, "pitch+2", "RuntimeError: planted"),
    ]
    _write(tmp_path, {("cnn", c): 0.0 for c in CHANGES}, failures=failures)
    result = _by_name(robustness_checks(tmp_path))["failed_clips"]
    assert result.verdict == "WARN"
    assert "2 (clip, change) pairs failed (mp3_64k 1, pitch+2 1) of 40 test clips" in result.finding
    listed = result.evidence.reset_index()
    assert listed["key"].tolist() == ["1234", "99"]
    assert listed["error"].tolist()[0] == "LibsndfileError: bad sample rate"


def test_no_failed_clip_passes(tmp_path):
    _write(tmp_path, {("cnn", c): 0.0 for c in CHANGES})
    assert _by_name(robustness_checks(tmp_path))["failed_clips"].verdict == "PASS"


def test_without_a_robustness_stage_it_says_how_to_get_one(tmp_path):
    (result,) = robustness_checks(tmp_path)
    assert result.verdict == "SKIP" and "run with --robustness" in result.finding


def test_a_skipped_stage_gives_its_reason(tmp_path):
    reason = "the genres_all task is not supported (single-label genre_top runs only)"
    (tmp_path / "robustness.json").write_text(json.dumps({"skipped": reason}), "utf-8")
    (result,) = robustness_checks(tmp_path)
    assert result.verdict == "SKIP" and result.finding == reason


def test_the_family_is_registered_for_the_run_report(tmp_path):
    (entry,) = [e for e in check_entries(RUN) if e.name == "robustness"]
    _write(tmp_path, {("cnn", c): 0.0 for c in CHANGES})
    assert [r.name for r in run_entry(entry, tmp_path)] == ["degradation", "failed_clips"]
