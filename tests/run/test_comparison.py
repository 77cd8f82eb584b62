"""`fma-harness compare`: models over several runs, from constructed leaderboards and from two
real runs on different splits end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import DataError, ParameterError
from harness.run.comparison import compare_runs


def _write_board(run_dir: Path, rows: list[dict]) -> Path:
    run_dir.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(run_dir / "leaderboard.csv", index=False)
    return run_dir


def _row(model, val_ll, test_ll, test_f1, status="ok"):
    return {
        "model": model,
        "status": status,
        "val_log_loss": val_ll,
        "test_log_loss": test_ll,
        "test_macro_f1": test_f1,
    }


@pytest.fixture
def three_runs(tmp_path):
    """Three constructed runs: cnn beats the reference on both measures in runs a and c only
    (in b its F1 is lower), crnn failed in run c."""
    a = _write_board(
        tmp_path / "a",
        [_row("ref", 0.8, 0.7, 0.70), _row("cnn", 0.5, 0.4, 0.80), _row("crnn", 0.6, 0.9, 0.60)],
    )
    b = _write_board(
        tmp_path / "b",
        [_row("ref", 0.9, 0.6, 0.75), _row("cnn", 0.4, 0.5, 0.70), _row("crnn", 0.7, 0.5, 0.80)],
    )
    c = _write_board(
        tmp_path / "c",
        [
            _row("ref", 0.7, 0.8, 0.65),
            _row("cnn", 0.3, 0.3, 0.90),
            _row("crnn", None, None, None, "failed"),
        ],
    )
    return [a, b, c]


def test_means_spreads_and_wins_over_constructed_runs(three_runs):
    comparison = compare_runs(three_runs, against="ref")
    assert (comparison.task, comparison.n_runs) == ("genre_top", 3)
    table = comparison.table.set_index("model")
    assert list(table.index) == ["cnn", "crnn", "ref"]  # by mean validation log loss
    assert table.loc["cnn", "test_log_loss_mean"] == pytest.approx(0.4)
    assert table.loc["cnn", "test_log_loss_std"] == pytest.approx(0.1)
    assert table.loc["cnn", "test_macro_f1_mean"] == pytest.approx(0.8)
    assert table.loc["cnn", "n_runs"] == 3
    assert table.loc["crnn", "n_runs"] == 2  # its failed run is left out of the scores
    assert table.loc["crnn", "val_log_loss_mean"] == pytest.approx(0.65)
    assert table.loc["cnn", "ahead_of_ref"] == 2  # a and c; in b its F1 was lower
    assert table.loc["crnn", "ahead_of_ref"] == 1  # b only
    assert table.loc["crnn", "runs_with_ref"] == 2
    assert table.loc["ref", "ahead_of_ref"] == 0


def test_runs_of_different_datasets_are_compared_with_a_warning(three_runs, caplog):
    for run, root in zip(three_runs, ("/data/a", "/data/a", "/data/b"), strict=True):
        (run / "manifest.json").write_text(json.dumps({"config": {"root": root, "seed": 0}}))
    table = compare_runs(three_runs).table
    assert table.set_index("model").loc["cnn", "n_runs"] == 3
    assert "these runs read 2 datasets (/data/a, /data/b)" in caplog.text


def test_a_seeds_run_counts_with_its_main_seed(three_runs):
    board = pd.read_csv(three_runs[0] / "leaderboard.csv")
    board["test_log_loss_mean"], board["test_log_loss_std"], board["n_seeds"] = 9.0, 1.0, 3
    board.to_csv(three_runs[0] / "leaderboard.csv", index=False)
    table = compare_runs(three_runs).table.set_index("model")
    assert table.loc["cnn", "test_log_loss_mean"] == pytest.approx(0.4)  # not the seeds' 9.0
    assert not [c for c in table.columns if c.endswith(("_mean_mean", "_std_mean"))]


def test_without_a_reference_there_are_no_win_columns(three_runs):
    table = compare_runs(three_runs).table
    assert not [c for c in table.columns if c.startswith(("ahead_of_", "runs_with_"))]


def test_bad_input_is_one_clear_error(three_runs, tmp_path):
    with pytest.raises(ParameterError, match="compare needs two run directories"):
        compare_runs(three_runs[:1])
    with pytest.raises(DataError, match=r"no leaderboard\.csv; pass run directories"):
        compare_runs([three_runs[0], tmp_path / "missing"])
    with pytest.raises(ParameterError, match=r"--against svm: no such model .*ref, cnn, crnn"):
        compare_runs(three_runs, against="svm")
    tagging = _write_board(
        tmp_path / "tags",
        [{"model": "cnn", "status": "ok", "test_bce": 0.2, "test_pr_auc_macro": 0.7}],
    )
    with pytest.raises(ParameterError, match="is a genres_all run .* a genre_top run"):
        compare_runs([three_runs[0], tagging])
    odd = _write_board(tmp_path / "odd", [{"model": "cnn", "status": "ok", "score": 1.0}])
    with pytest.raises(DataError, match="no test_log_loss/test_macro_f1"):
        compare_runs([three_runs[0], odd])
    failed = _write_board(tmp_path / "failed", [{"model": "cnn", "status": "failed: oops"}])
    with pytest.raises(DataError, match="every model of this run failed .* leave it out"):
        compare_runs([three_runs[0], failed])
    out = CliRunner().invoke(app, ["compare", *map(str, three_runs[:2]), "--out", str(tmp_path)])
    assert out.exit_code == 1 and "is a folder; name the CSV file" in str(out.exception)


@pytest.fixture(scope="module", params=["genre_top", "genres_all"])
def two_split_runs(request, synth_root, tmp_path_factory):
    """(task, tmp, run dirs): two CLI runs of the quick feature-table models on two re-drawn
    splits (seeds 0 and 1), single-label and multi-label."""
    task = request.param
    tmp = tmp_path_factory.mktemp(f"compare-{task}")
    runs = []
    for seed in (0, 1):
        args = [
            "run",
            "--root",
            str(synth_root),
            "--models",
            "mfcc-logreg,prior",
            "--quick",
            "--task",
            task,
            "--resplit",
            "--seed",
            str(seed),
            "--out",
            str(tmp / "runs"),
            "--cache-dir",
            str(tmp / "cache"),
            "--n-jobs",
            "1",
            "--no-checks",
            "--run-id",
            f"split{seed}",
        ]
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(tmp)  # the submissions folder is relative
            result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        runs.append(tmp / "runs" / f"split{seed}")
    return task, tmp, runs


# per task: a score where lower is better and one where higher is better (HEAD_TO_HEAD)
MEASURES = {
    "genre_top": ("test_log_loss", "test_macro_f1"),
    "genres_all": ("test_bce", "test_pr_auc_macro"),
}
HEADERS = {"genre_top": "test log loss", "genres_all": "test PR-AUC"}


def test_compare_two_real_runs_through_the_cli(two_split_runs):
    task, tmp, runs = two_split_runs
    lower, higher = MEASURES[task]
    boards = [pd.read_csv(run / "leaderboard.csv").set_index("model") for run in runs]
    scores = [board.loc["mfcc-logreg", lower] for board in boards]
    assert scores[0] != scores[1]  # the two splits differ
    out = tmp / "tables" / "comparison.csv"
    args = ["compare", *map(str, runs), "--against", "prior", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Models over 2 runs" in result.output and "(reference)" in result.output
    assert HEADERS[task] in result.output
    table = pd.read_csv(out).set_index("model")
    assert table.loc["mfcc-logreg", f"{lower}_mean"] == pytest.approx(sum(scores) / 2, abs=1e-4)
    assert table.loc["mfcc-logreg", "n_runs"] == 2
    wins = sum(
        b.loc["mfcc-logreg", lower] < b.loc["prior", lower]
        and b.loc["mfcc-logreg", higher] > b.loc["prior", higher]
        for b in boards
    )
    assert table.loc["mfcc-logreg", "ahead_of_prior"] == wins


def test_compare_refuses_a_folder_that_is_not_a_run(two_split_runs, tmp_path):
    _, _, runs = two_split_runs
    result = CliRunner().invoke(app, ["compare", str(runs[0]), str(tmp_path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, DataError), repr(result.exception)
    message = str(result.exception)
    assert "\n" not in message and message.startswith(f"{tmp_path}: no leaderboard.csv")
