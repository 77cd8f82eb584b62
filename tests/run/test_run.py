"""The end-to-end job on the tiny synthetic set: outputs, reproducibility, failure isolation."""

import json

import pandas as pd
import pytest

from harness.config.run_config import RunConfig
from harness.run.pipeline import run_pipeline
from harness.scoring.submission.validate import validate_submission

pytestmark = pytest.mark.slow


def _config(synth_root, tmp_path, **overrides) -> RunConfig:
    values = dict(
        root=synth_root,
        models=["uniform", "prior", "mfcc-logreg", "cnn"],
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        cache_dir=tmp_path / "cache",
        quick=True,
        checks=False,
        n_jobs=1,
    )
    values.update(overrides)
    return RunConfig(**values)


@pytest.fixture(scope="module")
def first_run(synth_root, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    config = _config(synth_root, tmp_path, run_id="first", checks=True)
    return config, run_pipeline(config)


def test_run_directory_holds_everything(first_run, synth_root):
    config, run_dir = first_run
    for name in (
        "manifest.json",
        "leaderboard.csv",
        "leaderboard.md",
        "checks.json",
        "report.md",
        "report.html",
        "splits.csv",
        "decode_status.csv",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "models" / "mfcc-logreg" / "model.skops").is_file()
    assert (run_dir / "models" / "cnn" / "model.pt").is_file()
    assert (run_dir / "models" / "cnn" / "history.csv").is_file()
    sanity = json.loads((run_dir / "models" / "cnn" / "sanity.json").read_text())
    assert {r["name"] for r in sanity} >= {"init_loss", "gradients", "shuffled_labels"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["models"] == config.models
    assert manifest["seeds"] == {"seed": 0}
    assert set(manifest["data_checksums"]) >= {"tracks.csv", "splits.csv"}
    splits = pd.read_csv(run_dir / "splits.csv")
    assert list(splits.columns) == ["track_id", "split", "artist_id"]
    assert splits["artist_id"].notna().all()
    assert "artist_errors" in (run_dir / "report.md").read_text("utf-8")
    assert manifest["feature_cache_keys"]
    assert manifest["versions"]["torch"] and "commit" in manifest["git"]


def test_stage_times_reach_the_manifest_and_the_report(first_run):
    config, run_dir = first_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stages = [row["stage"] for row in manifest["stage_seconds"]]
    expected = ["data", "features", "data checks", "mfcc-140: embeddings"]
    for name in config.models:
        expected += [f"{name}: train", f"{name}: predict"]
        expected += ["cnn: sanity", "cnn: embeddings"] if name == "cnn" else []
    expected += ["ensemble"]  # of mfcc-logreg and cnn (harness.run.ensemble)
    assert stages == [*expected, "submissions and leaderboard", "report", "total"]
    seconds = [row["seconds"] for row in manifest["stage_seconds"]]
    assert all(s >= 0 for s in seconds) and seconds[-1] == pytest.approx(sum(seconds[:-1]), 0.01)
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    train = dict(zip(stages, seconds, strict=True))["cnn: train"]
    assert train == pytest.approx(board.loc["cnn", "train_seconds"], abs=0.01)
    report = (run_dir / "report.md").read_text("utf-8")
    assert "### stage_times — PASS" in report and "cnn: sanity" in report


def test_leaderboard_rows_and_submissions(first_run, synth_root):
    config, run_dir = first_run
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert sorted(board["model"]) == sorted([*config.models, "ensemble"])
    assert (board["status"] == "ok").all()
    uniform = board.set_index("model").loc["uniform"]
    assert uniform["test_log_loss"] == pytest.approx(2.0794, abs=1e-4)  # ln 8 genres
    expected_ids = {p.stem for p in (synth_root / "crowdai_fma_test").glob("*.mp3")}
    for model in [*config.models, "ensemble"]:
        path = config.submissions_dir / "first" / f"{model}.csv"
        assert validate_submission(path, expected_ids=expected_ids) == []
    # 16 submission columns, 8 trained classes: unseen genres get a floor, so log loss is finite
    assert board["submission_log_loss"].notna().all()
    # no model trains on a clip that failed to decode or is digital silence (one is planted)
    status = pd.read_csv(run_dir / "decode_status.csv")
    training = status[status["group"] == "training"]
    unusable = training["status"].isin(["missing", "empty", "corrupt", "silent"])
    assert (training["status"] == "silent").sum() == 1
    for model in ("mfcc-logreg", "cnn"):
        assert board.set_index("model").loc[model, "n_train_excluded"] == unusable.sum()


def test_same_seed_same_numbers_and_cache_reused(first_run, synth_root, tmp_path):
    config, run_dir = first_run
    again = run_pipeline(RunConfig(**{**config.__dict__, "run_id": "second", "checks": False}))
    first = pd.read_csv(run_dir / "leaderboard.csv").drop(columns=["train_seconds"])
    second = pd.read_csv(again / "leaderboard.csv").drop(columns=["train_seconds"])
    pd.testing.assert_frame_equal(first, second)
    status = pd.read_csv(again / "decode_status.csv")
    assert len(status) > 0


def test_a_failing_model_does_not_stop_the_others(synth_root, tmp_path, monkeypatch):
    import baselines.knn

    def broken(**_):
        raise RuntimeError("diverged")

    monkeypatch.setattr(baselines.knn, "make_knn", broken)
    run_dir = run_pipeline(_config(synth_root, tmp_path, models=["knn", "mfcc-logreg"]))
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    assert board.loc["knn", "status"].startswith("failed: RuntimeError: diverged")
    assert board.loc["mfcc-logreg", "status"] == "ok"
    assert "diverged" in (run_dir / "models" / "knn" / "error.txt").read_text()
