"""The data checklist against the faults the synthetic generator planted.

The session's tiny set (``synth_root``: 8 genres x 8 tracks of 4 s, one fault of each kind)
checks the wiring end to end and that every planted audio fault and duplicate is found with no
false alarm. The mislabel detector's figures need a larger set: tests/test_checks_truth.py.
"""

from __future__ import annotations

import json

import pytest

from harness.checks.base import load_checks
from harness.checks.truth import acceptance_problems, load_truth, score_against_truth
from harness.run.check import check_dataset

pytestmark = pytest.mark.slow  # generating and checking the tiny set takes ~15 s of CPU

AUDIO_AND_DUPLICATES = ("empty", "short", "silent", "corrupt", "duplicate")


@pytest.fixture(scope="module")
def tiny_check(synth_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("checks")
    results, scores = check_dataset(
        root=synth_root, cache_dir=out / "cache", out=out / "report", n_jobs=2, progress=False
    )
    return results, scores, out


def test_tiny_set_every_audio_fault_and_duplicate_found(tiny_check):
    results, scores, out = tiny_check
    assert acceptance_problems(scores, kinds=AUDIO_AND_DUPLICATES) == [], scores
    assert (scores.set_index("fault").loc[list(AUDIO_AND_DUPLICATES), "planted"] >= 1).all()
    by_key = {r.key: r for r in results}
    assert by_key["duplicates/identical_files"].verdict == "FAIL"  # planted copies cross splits
    assert by_key["leakage/train_test_near_duplicates"].verdict == "FAIL"
    assert by_key["leakage/artists_across_splits"].verdict == "PASS"
    assert by_key["labels/suspected_mislabels"].verdict in ("WARN", "PASS")
    assert by_key["features/scaling_on_training_only"].verdict == "PASS"


def test_tiny_set_outputs_round_trip(tiny_check, synth_root):
    results, scores, out = tiny_check
    report = out / "report"
    back = load_checks(report / "checks.json")
    assert [r.key for r in back] == [r.key for r in results]
    # scoring the stored checks.json gives the same figures as the live results
    again = score_against_truth(back, load_truth(synth_root / "synthetic_truth.csv"))
    assert again.equals(scores)
    html = (report / "report.html").read_text("utf-8")
    assert "planted_faults" in html and "<script" not in html
    assert json.loads((report / "checks.json").read_text("utf-8"))[0]["family"] == "audio"


def test_cli_check_reuses_the_cache(tiny_check, synth_root):
    from typer.testing import CliRunner

    from harness.cli import app

    _, _, out = tiny_check
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--root",
            str(synth_root),
            "--out",
            str(out / "cli"),
            "--cache-dir",
            str(out / "cache"),
            "--n-jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "planted faults" in result.output
    assert (out / "cli" / "report.html").exists() and (out / "cli" / "checks.json").exists()
