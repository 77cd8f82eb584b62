"""`fma-harness run` end to end on a folder-per-label set and on a CSV manifest (CLI)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.checks.truth import score_report
from harness.cli import app
from harness.errors import ParameterError

pytestmark = pytest.mark.slow

SYNTH = ["--n-tracks", "24", "--duration", "4", "--n-jobs", "1", "--seed", "0"]


def synth(root, fmt, *extra):
    result = CliRunner().invoke(
        app, ["data", "synth", "--root", str(root), "--format", fmt, *SYNTH, *extra]
    )
    assert result.exit_code == 0, result.output
    return root


def run(tmp_path, root, *extra):
    args = [
        "run",
        "--root",
        str(root),
        "--models",
        "mfcc-logreg,prior",
        "--quick",
        "--n-jobs",
        "1",
        "--out",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--run-id",
        "r",
        *extra,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "r"


def checks(run_dir) -> dict:
    return {(c["family"], c["name"]): c for c in json.loads((run_dir / "checks.json").read_text())}


def test_run_on_a_folder_per_label(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default submissions/ would land here
    root = synth(tmp_path / "by_label", "folders")
    run_dir = run(tmp_path, root)
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert set(board["model"]) == {"mfcc-logreg", "prior"} and (board["status"] == "ok").all()
    assert not (tmp_path / "submissions").exists()  # no FMA challenge: no submission
    found = checks(run_dir)
    artists = found[("leakage", "artists_across_splits")]
    assert artists["verdict"] == "WARN" and "optimistic" in artists["finding"]
    assert found[("leakage", "albums_across_splits")]["verdict"] == "SKIP"
    assert found[("labels", "genre_hierarchy")]["verdict"] == "SKIP"
    scores = score_report(run_dir / "checks.json", root / "synthetic_truth.csv")
    scores = scores.set_index("fault")
    for fault in ("corrupt", "empty", "duplicate"):  # the shifted repeat included
        assert scores.loc[fault, "recall"] == 1.0, scores
    report = (run_dir / "report.md").read_text("utf-8")
    assert "optimistic" in report
    preparation = json.loads((run_dir / "preparation.json").read_text())
    assert preparation["format"] == "folders" and preparation["split_source"] == "audio"
    assert "split source: audio" in report  # single-label runs report the preparation too
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["format"] is None and "splits.csv" in manifest["data_checksums"]
    assert manifest["config"]["resolved_format"] == "folders"  # detected
    assert "- **resolved_format**: folders" in report and "- **subset**" not in report


def test_run_on_a_manifest_multilabel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = synth(tmp_path / "listed", "manifest")
    run_dir = run(
        tmp_path,
        root / "manifest.csv",
        "--task",
        "genres_all",
        "--min-genre-count",
        "2",
        "--no-checks",
    )
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert (board["status"] == "ok").all() and "val_pr_auc_macro" in board.columns
    tags = pd.read_csv(run_dir / "genres_all.csv")
    assert tags.shape[1] - 2 >= 2  # track_id, split, then one column per kept label
    splits = pd.read_csv(run_dir / "splits.csv")
    assert splits["artist_id"].notna().all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "manifest.csv" in manifest["data_checksums"]


def test_run_on_a_manifest_without_artists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = synth(tmp_path / "unknown", "manifest", "--no-artists")
    run_dir = run(tmp_path, root / "manifest.csv")
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert (board["status"] == "ok").all()
    preparation = json.loads((run_dir / "preparation.json").read_text())
    assert preparation["format"] == "manifest" and preparation["split_source"] == "audio"
    found = checks(run_dir)
    artists = found[("leakage", "artists_across_splits")]
    assert artists["verdict"] == "WARN" and "optimistic" in artists["finding"]
    assert found[("leakage", "albums_across_splits")]["verdict"] == "SKIP"
    scores = score_report(run_dir / "checks.json", root / "synthetic_truth.csv")
    assert scores.set_index("fault").loc["duplicate", "recall"] == 1.0, scores


def test_test_dir_on_a_folders_root_is_refused(tmp_path):
    root = tmp_path / "genres"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        (root / label / "x.wav").write_bytes(b"")
    result = CliRunner().invoke(
        app,
        ["run", "--root", str(root), "--test-dir", str(tmp_path), "--out", str(tmp_path / "runs")],
    )
    assert isinstance(result.exception, ParameterError)
    assert "a challenge test folder belongs to an FMA root" in str(result.exception)
