"""`fma-harness run --task genres_all --quick` end to end on the tiny synthetic set: every
registered model tags, the tagging leaderboard and the report's tagging section are written."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.registry import names
from harness.run.outputs import TAGGING_METRICS

# Every neural model as registered, made small and short so that training and its sanity
# checks (a few hundred optimiser steps each) stay cheap: the test is about the wiring.
SMALL_NEURAL = """
[params.cnn]
chunk_frames = 64
n_eval_chunks = 1
model_params = { channels = [8, 8, 8, 8] }

[params.crnn]
chunk_frames = 64
n_eval_chunks = 1
model_params = { channels = [8, 8, 8, 8], gru_hidden = 8, gru_layers = 1 }

[params.short-chunk]
chunk_frames = 128
n_eval_chunks = 1
model_params = { channels = [8, 8, 8, 8, 8, 8, 8], head_units = 8 }
"""


@pytest.fixture(scope="module")
def run_dir(synth_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multilabel")
    (tmp / "run.toml").write_text(SMALL_NEURAL)
    args = [
        "run",
        "--task",
        "genres_all",
        "--quick",
        "--no-checks",
        "--root",
        str(synth_root),
        "--out",
        str(tmp / "runs"),
        "--cache-dir",
        str(tmp / "cache"),
        "--n-jobs",
        "1",
        "--run-id",
        "tags",
        "--config",
        str(tmp / "run.toml"),
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "tags"


@pytest.mark.slow
def test_every_model_tags_and_scores_in_unit_range(run_dir):
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert sorted(board["model"]) == sorted(names())
    assert (board["status"] == "ok").all(), board[["model", "status"]]
    for prefix in ("val", "test"):
        for metric in TAGGING_METRICS:
            column = f"{prefix}_{metric}"
            if metric == "bce":
                assert (board[column] > 0).all(), column
                continue
            values = board[column].dropna()
            assert len(values) == len(board) and values.between(0, 1).all(), column
    # sorted by validation macro PR-AUC, best first; the references rank no track first
    assert board["val_pr_auc_macro"].is_monotonic_decreasing
    refs = board.set_index("model").loc[["uniform", "prior"]]
    assert (refs["test_roc_auc_macro"] == 0.5).all()
    assert refs["notes"].eq("reference row: not calibrated").all()
    assert "log_loss" not in " ".join(board.columns)  # no single-label column


@pytest.mark.slow
def test_rare_genres_are_dropped_and_reported(run_dir):
    info = json.loads((run_dir / "tagging.json").read_text())
    assert info["min_genre_count"] == 5 and info["dropped_genres"]
    assert all(n < 5 for n in info["dropped_genres"].values())
    labels = pd.read_csv(run_dir / "genres_all.csv", index_col="track_id")
    train = labels[labels["split"] == "training"].drop(columns="split")
    assert list(train.columns) == info["genres"] and (train.sum() >= 5).all()
    assert (
        "genres dropped, fewer than 5 training tracks" in (run_dir / "leaderboard.md").read_text()
    )
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["min_genre_count"] == 5


@pytest.mark.slow
def test_report_has_the_tagging_section(run_dir):
    report = (run_dir / "report.md").read_text("utf-8")
    assert "## Tagging" in report
    for name in (
        "per_genre_scores",
        "dropped_genres",
        "co_occurrence",
        "hierarchy",
        "genres_all_distribution",
    ):
        assert f"### {name}" in report, name
    assert "mfcc-logreg PR-AUC" in report and "cnn ROC-AUC" in report


def test_min_genre_count_option_reaches_the_run_config():
    from harness.commands.run import _config

    assert _config(None).min_genre_count == 5
    assert _config(None, min_genre_count=2).min_genre_count == 2
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert "--min-genre-count" in result.output
    bad = CliRunner().invoke(app, ["run", "--min-genre-count", "few"])
    assert bad.exit_code == 2


@pytest.mark.slow
def test_train_passes_min_genre_count_to_the_data(run_dir, synth_root):
    tmp = run_dir.parent.parent  # the module's folder: its feature cache is already filled
    args = [
        "train",
        "mfcc-logreg",
        "--task",
        "genres_all",
        "--min-genre-count",
        "2",
        "--quick",
        "--root",
        str(synth_root),
        "--out",
        str(tmp / "runs"),
        "--cache-dir",
        str(tmp / "cache"),
        "--n-jobs",
        "1",
        "--run-id",
        "tags-min2",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "val PR-AUC" in result.output
    five = json.loads((run_dir / "tagging.json").read_text())
    two = json.loads((tmp / "runs" / "tags-min2" / "tagging.json").read_text())
    assert two["min_genre_count"] == 2
    assert all(n < 2 for n in two["dropped_genres"].values())
    assert len(two["genres"]) > len(five["genres"])
