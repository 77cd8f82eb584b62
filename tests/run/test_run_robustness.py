"""`fma-harness run --robustness` end to end on the tiny synthetic set: the table for every
model and change, the per-change cache and its reuse, the report section, and a change that
raises on one clip (listed, the rest scored)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.features import perturb
from harness.run import model_training

pytestmark = pytest.mark.slow

CHANGES = list(perturb.CHANGES)
# the cnn made tiny, as in tests/pipeline/conftest.py
TINY_CNN_TOML = """[params.cnn]
chunk_frames = 64
n_eval_chunks = 2
model_params = { channels = [8, 8, 8, 8] }
"""


def _run(workdir: dict, run_id: str, models: str) -> str:
    args = [
        "run",
        "--root",
        str(workdir["root"]),
        "--models",
        models,
        "--quick",
        "--robustness",
        "--no-checks",
        "--no-style-map",
        "--n-jobs",
        "1",
        "--out",
        "runs",
        "--cache-dir",
        "cache",
        "--config",
        "run.toml",
        "--run-id",
        run_id,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def workdir(synth_root, tmp_path_factory):
    """A folder holding run.toml, runs/ and the shared cache/ of this module's runs."""
    tmp = tmp_path_factory.mktemp("robustness")
    (tmp / "run.toml").write_text(TINY_CNN_TOML, "utf-8")
    return {"dir": tmp, "root": synth_root}


@pytest.fixture(scope="module")
def first(workdir):
    """The run of mfcc-logreg and cnn (the cnn's minute of sanity training skipped)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir["dir"])
        patch.setattr(model_training, "write_model_sanity", lambda *args, **kwargs: None)
        _run(workdir, "first", "mfcc-logreg,cnn")
    return workdir["dir"] / "runs" / "first"


def _cache_files(tmp) -> dict[str, int]:
    """change -> mtime (ns) of its cached npz."""
    folders = list((tmp / "cache" / "robustness").iterdir())
    assert len(folders) == 1, folders
    return {p.stem: p.stat().st_mtime_ns for p in folders[0].glob("*.npz")}


class BrokenOnce:
    """A change that raises on the first clip it gets and leaves the others as they are."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, y, sr, *, seed=0):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("planted failure")
        return y.copy()


@pytest.fixture(scope="module")
def second(first, workdir):
    """A second run (mfcc-logreg) on the same cache with two more changes: ``identity`` and
    ``broken`` (raises on one clip). Returns (run_dir, cache mtimes before, after, report)."""
    tmp = workdir["dir"]
    before = _cache_files(tmp)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        patch.setitem(perturb.CHANGES, "identity", lambda y, sr, *, seed=0: y.copy())
        patch.setitem(perturb.CHANGES, "broken", BrokenOnce())
        _run(workdir, "second", "mfcc-logreg")
    run_dir = tmp / "runs" / "second"
    return run_dir, before, _cache_files(tmp), (run_dir / "report.md").read_text("utf-8")


def test_every_model_and_change_is_scored(first):
    table = pd.read_csv(first / "robustness.csv")
    expected = {(m, c) for m in ("mfcc-logreg", "cnn", "ensemble") for c in CHANGES}
    assert set(zip(table["model"], table["change"], strict=True)) == expected
    assert len(table) == len(expected)
    status = pd.read_csv(first / "decode_status.csv")
    n_test = int((status["group"].eq("test") & status["status"].isin(["ok", "short"])).sum())
    assert (table["n_clips"] == n_test).all() and (table["n_failed"] == 0).all()
    board = pd.read_csv(first / "leaderboard.csv").set_index("model")
    for model, rows in table.groupby("model"):
        # every clean test clip succeeded: the clean scores are the leaderboard's (calibrated)
        assert rows["clean_log_loss"].eq(board.loc[model, "test_log_loss_calibrated"]).all()
        assert rows["clean_accuracy"].round(4).eq(board.loc[model, "test_accuracy"]).all()
    delta = table["log_loss"] - table["clean_log_loss"]
    np.testing.assert_allclose(table["delta_log_loss"], delta, atol=2e-4)
    assert table[table["change"] == "noise20dB"]["delta_log_loss"].ne(0).all()
    assert pd.read_csv(first / "robustness_failures.csv").empty


def test_the_changed_features_are_cached_per_change(first, workdir):
    folder = next((workdir["dir"] / "cache" / "robustness").iterdir())
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{c}.npz" for c in CHANGES)
    with np.load(folder / "gain-12dB.npz") as npz:
        assert npz["mfcc"].shape[1] == 140 and npz["logmel"].dtype == np.float16
        assert (npz["error"] == "").all()


def test_the_report_has_the_robustness_section(first):
    report = (first / "report.md").read_text("utf-8")
    assert "## Robustness" in report
    assert "### degradation — " in report and "### failed_clips — PASS" in report
    assert "cnn Δ accuracy" in report and "mp3_64k" in report
    assert "figures/robustness-degradation-1.png" in report
    stages = (first / "manifest.json").read_text("utf-8")
    assert '"stage": "robustness"' in stages


def test_a_second_run_reuses_the_cache(second):
    run_dir, before, after, _ = second
    assert set(before) == set(CHANGES)
    assert {c: after[c] for c in CHANGES} == before  # not one cached change rewritten
    assert {"identity", "broken"} <= set(after)
    table = pd.read_csv(run_dir / "robustness.csv")
    assert set(table["change"]) == {*CHANGES, "identity", "broken"}
    assert set(table["model"]) == {"mfcc-logreg"}


def test_unchanged_audio_gives_the_clean_scores(second):
    run_dir, *_ = second
    row = pd.read_csv(run_dir / "robustness.csv").set_index("change").loc["identity"]
    assert row["n_failed"] == 0
    assert row["log_loss"] == row["clean_log_loss"] and row["delta_accuracy"] == 0


def test_a_change_that_raises_on_one_clip_is_listed_and_the_rest_scored(second):
    run_dir, *_, report = second
    failures = pd.read_csv(run_dir / "robustness_failures.csv")
    assert failures["change"].tolist() == ["broken"]
    assert failures["error"].iloc[0] == "RuntimeError: planted failure"
    splits = pd.read_csv(run_dir / "splits.csv", index_col="track_id")["split"]
    assert splits.loc[int(failures["key"].iloc[0])] == "test"
    row = pd.read_csv(run_dir / "robustness.csv").set_index("change").loc["broken"]
    identity = pd.read_csv(run_dir / "robustness.csv").set_index("change").loc["identity"]
    assert row["n_failed"] == 1 and row["n_clips"] == identity["n_clips"] - 1
    assert row["log_loss"] == row["clean_log_loss"]  # the same clips, clean and unchanged
    assert "### failed_clips — WARN" in report and "planted failure" in report
    assert "### degradation — " in report


def test_a_multilabel_run_skips_with_its_reason_in_the_report(tmp_path):
    from types import SimpleNamespace

    from harness.checks.runs.robustness import from_run as robustness_checks
    from harness.config.run_config import RunConfig
    from harness.run.robustness import robustness_stage

    data = SimpleNamespace(task="genres_all")
    assert robustness_stage(RunConfig(), tmp_path, data, SimpleNamespace(), []) is None
    assert not (tmp_path / "robustness.csv").exists()
    (result,) = robustness_checks(tmp_path)
    assert result.verdict == "SKIP" and "genres_all task is not supported" in result.finding


def test_a_failing_stage_is_a_fail_in_the_report_not_a_crash(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from harness.checks.runs.robustness import from_run as robustness_checks
    from harness.config.run_config import RunConfig
    from harness.data.audio import DecodeConfig
    from harness.features.config import LogMelConfig
    from harness.run import robustness
    from harness.run.model_run import ModelOutcome

    def full_disk(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(robustness, "usable_keys", lambda *args, **kwargs: pd.Index([1, 2]))
    monkeypatch.setattr(robustness, "extract_changed", full_disk)
    data = SimpleNamespace(task="genre_top", clips=pd.DataFrame({"path": ["a", "b"]}, index=[1, 2]))
    features = SimpleNamespace(
        table=None, decode=DecodeConfig(), logmel=LogMelConfig(), feature_set="mfcc"
    )
    model = ModelOutcome("mfcc-logreg", row={}, predictions={"test": {}}, estimator=object())
    assert robustness.robustness_stage(RunConfig(), tmp_path, data, features, [model]) is None
    assert "OSError: disk full" in (tmp_path / "robustness_error.txt").read_text("utf-8")
    (result,) = robustness_checks(tmp_path)
    assert result.verdict == "FAIL" and "disk full" in result.finding
