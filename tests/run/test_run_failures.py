"""Failures are loud: failed models (exit code 3, a FAIL at the top of the report, a last line
naming them) and own test folders (scored only against their own answer key; a submission that
fails is a note, never a lost leaderboard)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.run.status import failed_models, failure_summary

pytestmark = pytest.mark.slow

# honest failures at fit time: scikit-learn refuses these values when fitting
BROKEN = "[params.knn]\nn_neighbors = 0\n[params.mfcc-logreg]\nC = -1.0\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One feature cache for the module's runs (the MFCC work is done once)."""
    return tmp_path_factory.mktemp("failures-cache")


def _invoke(synth_root: Path, tmp_path: Path, cache_dir: Path, *args: str, toml: str = ""):
    config = tmp_path / "run.toml"
    config.write_text(f'submissions_dir = "{tmp_path / "submissions"}"\n{toml}')
    base = [
        "--root",
        str(synth_root),
        "--out",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(cache_dir),
        "--config",
        str(config),
        "--quick",
        "--n-jobs",
        "1",
    ]
    command = [args[0], *args[1:], *base]
    if args[0] == "run":
        command.append("--no-checks")
    return CliRunner().invoke(app, command)


def _summary_rows(report: str) -> list[str]:
    """The rows of the report's summary table (one per check, in report order)."""
    section = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")][1:]


def test_a_run_whose_models_all_fail_exits_3_with_leaderboard_and_report(
    synth_root, tmp_path, cache_dir
):
    args = ["run", "--models", "knn,mfcc-logreg", "--run-id", "allfail"]
    result = _invoke(synth_root, tmp_path, cache_dir, *args, toml=BROKEN)
    assert result.exit_code == 3, result.output
    run_dir = tmp_path / "runs" / "allfail"
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    assert board["status"].str.startswith("failed: InvalidParameterError").all()
    assert failed_models(run_dir) == ["knn", "mfcc-logreg"]
    # the last line of the console names the failed models and where their tracebacks are
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("FAILED: 2 model(s) failed: knn, mfcc-logreg") and "error.txt" in last
    assert last == failure_summary(run_dir)
    report = (run_dir / "report.md").read_text("utf-8")
    first = _summary_rows(report)[0]
    assert "| failures |" in first and "| FAIL |" in first, first
    for text in ("2 of 2 models failed", "knn: InvalidParameterError", "mfcc-logreg:"):
        assert text in first, first
    assert str(run_dir / "models" / "knn" / "error.txt") in first
    assert "n_neighbors" in (run_dir / "models" / "knn" / "error.txt").read_text()
    assert report.index("## Failures") < report.index("## Results")
    assert "**Overall: FAIL**" in report
    html = (run_dir / "report.html").read_text("utf-8")
    assert html.index("2 of 2 models failed") < html.index("no model predictions")


def test_train_exits_3_when_its_model_fails(synth_root, tmp_path, cache_dir):
    args = ["train", "knn", "--run-id", "trainfail"]
    result = _invoke(synth_root, tmp_path, cache_dir, *args, toml=BROKEN)
    assert result.exit_code == 3, result.output
    assert "FAILED: 1 model(s) failed: knn" in result.stderr
    assert (tmp_path / "runs" / "trainfail" / "report.md").is_file()


def test_a_run_where_every_model_trains_exits_0_with_a_pass_on_top(synth_root, tmp_path, cache_dir):
    result = _invoke(synth_root, tmp_path, cache_dir, "run", "--models", "prior", "--run-id", "ok")
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "ok"
    assert failed_models(run_dir) == [] and failure_summary(run_dir) is None
    first = _summary_rows((run_dir / "report.md").read_text("utf-8"))[0]
    assert "| failures |" in first and "| PASS |" in first
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert board["submission_log_loss"].notna().all()  # the root's own folder: scored
    assert "submission_note" not in board.columns


def _own_test_folder(synth_root: Path, folder: Path, *, odd_name: bool = False) -> Path:
    folder.mkdir()
    clips = sorted((synth_root / "crowdai_fma_test").glob("*.mp3"))[:4]
    for clip in clips:
        shutil.copy(clip, folder / clip.name)
    if odd_name:  # a file id a submission cannot hold (a comma)
        shutil.copy(clips[0], folder / "odd,name.mp3")
    return folder


def test_an_own_test_folder_is_validated_not_scored_with_the_roots_key(
    synth_root, tmp_path, cache_dir
):
    own = _own_test_folder(synth_root, tmp_path / "own")
    args = ["run", "--models", "prior", "--test-dir", str(own), "--run-id", "own"]
    result = _invoke(synth_root, tmp_path, cache_dir, *args)
    assert result.exit_code == 0, result.output
    board = pd.read_csv(tmp_path / "runs" / "own" / "leaderboard.csv")
    assert board["submission_note"].str.startswith("not scored: no answer key").all()
    assert "submission_log_loss" not in board.columns
    submission = pd.read_csv(tmp_path / "submissions" / "own" / "prior.csv")
    assert sorted(submission["file_id"]) == sorted(p.stem for p in own.glob("*.mp3"))


def test_an_own_test_folder_with_its_answer_key_is_scored(synth_root, tmp_path, cache_dir):
    own = _own_test_folder(synth_root, tmp_path / "own")
    lines = (synth_root / "crowdai_fma_test_answers.csv").read_text().splitlines()
    ids = {p.stem for p in own.glob("*.mp3")}
    key = tmp_path / "own_answers.csv"
    key.write_text("\n".join([lines[0], *(x for x in lines[1:] if x.split(",")[0] in ids)]))
    args = ["run", "--models", "prior", "--test-dir", str(own), "--answers", str(key)]
    result = _invoke(synth_root, tmp_path, cache_dir, *args, "--run-id", "scored")
    assert result.exit_code == 0, result.output
    board = pd.read_csv(tmp_path / "runs" / "scored" / "leaderboard.csv")
    assert board["submission_log_loss"].notna().all()


def test_a_submission_that_fails_is_a_note_and_a_warning(synth_root, tmp_path, cache_dir):
    own = _own_test_folder(synth_root, tmp_path / "odd", odd_name=True)
    args = ["run", "--models", "prior", "--test-dir", str(own), "--run-id", "odd"]
    result = _invoke(synth_root, tmp_path, cache_dir, *args)
    assert result.exit_code == 0, result.output  # every model trained
    run_dir = tmp_path / "runs" / "odd"
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert board.loc[0, "status"] == "ok"
    assert board.loc[0, "submission_note"].startswith("failed: ParameterError")
    rows = _summary_rows((run_dir / "report.md").read_text("utf-8"))
    warned = [row for row in rows if "| submissions |" in row or "submissions](" in row]
    assert warned and "| WARN |" in warned[0], rows[:3]
