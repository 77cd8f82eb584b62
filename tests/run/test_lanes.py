"""Neural models side by side (harness/run/lanes.py): when, and that nothing but the time
changes."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config.run_config import RunConfig
from harness.run import lanes as lanes_module
from harness.run import pipeline as run_module
from harness.run.lanes import LanePlan, lane_environment, lane_plan, longest_first

MODELS = ["mfcc-logreg", "cnn", "crnn", "short-chunk"]
SANITY_CHECKS = ["init_loss", "gradients", "overfit_batch", "shuffled_labels", "finite"]


@pytest.mark.parametrize(
    "settings, cores, expected",
    [
        ({}, 2, LanePlan(lanes=3, threads=1)),
        ({"models": ["cnn", "crnn"]}, 2, LanePlan(lanes=2, threads=1)),
        ({}, 3, LanePlan(lanes=3, threads=1)),
        ({}, 16, LanePlan(lanes=3, threads=5)),
        ({"n_jobs": 2}, 16, LanePlan(lanes=3, threads=1)),
        ({"n_jobs": 1}, 16, LanePlan(lanes=1, threads=0)),
        ({"ddp": True}, 16, LanePlan(lanes=1, threads=0)),
        ({"device": "cuda"}, 16, LanePlan(lanes=3, threads=5)),
        ({"device": "mps"}, 16, LanePlan(lanes=1, threads=0)),
        ({"models": ["mfcc-logreg", "cnn"]}, 16, LanePlan(lanes=1, threads=0)),
        ({}, 1, LanePlan(lanes=1, threads=0)),
    ],
)
def test_side_by_side_only_on_several_cores_for_several_neural_models(settings, cores, expected):
    config = RunConfig(**{"models": MODELS, "device": "cpu", **settings})
    assert lane_plan(config, cores=cores) == expected


TINY_TOML = """[params.cnn]
chunk_frames = 64
n_eval_chunks = 2
model_params = {{ channels = [8, 8, 8, 8] }}
{cnn_threads}
[params.short-chunk]
n_eval_chunks = 2
{short_threads}
"""


def _run(tmp_path, synth_root, run_id: str, n_jobs: int, threads: int | None) -> Path:
    """`fma-harness run` of mfcc-logreg, cnn and short-chunk (quick) through the CLI."""
    line = f"num_threads = {threads}" if threads else ""
    config = tmp_path / f"{run_id}.toml"
    config.write_text(TINY_TOML.format(cnn_threads=line, short_threads=line))
    args = [
        "run",
        "--root",
        str(synth_root),
        "--models",
        "mfcc-logreg,cnn,short-chunk",
        "--quick",
        "--no-checks",
        "--no-style-map",
        "--device",
        "cpu",
        "--n-jobs",
        str(n_jobs),
        "--config",
        str(config),
        "--run-id",
        run_id,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "runs"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / run_id


@pytest.mark.slow
def test_side_by_side_gives_the_numbers_of_one_at_a_time(synth_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the submissions folder
    plan = lane_plan(RunConfig(models=["cnn", "short-chunk"], device="cpu", n_jobs=2))
    if plan.lanes == 1:
        pytest.skip("one core: nothing trains side by side")
    side_dir = _run(tmp_path, synth_root, "side", n_jobs=2, threads=None)
    one_dir = _run(tmp_path, synth_root, "one", n_jobs=1, threads=plan.threads)

    stages = json.loads((side_dir / "manifest.json").read_text())["stage_seconds"]
    block = [row["stage"] for row in stages if "side by side" in row["stage"]]
    assert len(block) == 1
    within = {row["stage"] for row in stages if row.get("within") == block[0]}
    assert {"cnn: train", "short-chunk: train", "short-chunk: sanity"} <= within
    assert "mfcc-logreg: train" in within  # trained here while the lanes trained theirs
    one_stages = json.loads((one_dir / "manifest.json").read_text())["stage_seconds"]
    assert not any("within" in row for row in one_stages)

    dirs = (side_dir, one_dir)
    boards = [pd.read_csv(d / "leaderboard.csv").set_index("model") for d in dirs]
    scores = [b.drop(columns=["train_seconds"]).select_dtypes("number") for b in boards]
    pd.testing.assert_frame_equal(scores[0], scores[1])
    for name in ("cnn", "short-chunk"):
        for group in ("validation", "test"):
            a = np.load(side_dir / "models" / name / f"predictions_{group}.npz")
            b = np.load(one_dir / "models" / name / f"predictions_{group}.npz")
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {group} {key}")
        # side by side, the sanity checks ran apart from the training, on an untrained copy
        sanity = [json.loads((d / "models" / name / "sanity.json").read_text()) for d in dirs]
        assert sanity[0] == sanity[1], name
        assert [check["name"] for check in sanity[0]] == SANITY_CHECKS


def test_the_longest_schedules_start_first():
    config = RunConfig(models=MODELS, params={"cnn": {"epochs": 40}})
    assert longest_first(config, ["cnn", "crnn", "short-chunk"]) == ["short-chunk", "cnn", "crnn"]
    quick = RunConfig(models=MODELS, quick=True)
    assert longest_first(quick, ["cnn", "crnn", "short-chunk"]) == ["cnn", "crnn", "short-chunk"]


@pytest.mark.slow
# loky's manager thread raised (KeyError) in about 1 of 4 runs when a task still waited in its queue
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failure_here_closes_the_lanes(synth_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if lane_plan(RunConfig(models=["cnn", "short-chunk"], device="cpu", n_jobs=2)).lanes == 1:
        pytest.skip("one core: nothing trains side by side")
    closed = []
    close = lanes_module.Lanes.close

    def spy(self):
        closed.append(self.names)
        close(self)

    def broken(*args, **kwargs):
        raise RuntimeError("the map broke")

    monkeypatch.setattr(lanes_module.Lanes, "close", spy)
    monkeypatch.setattr(run_module, "mfcc_embedding_stage", broken)
    args = [
        "run",
        "--root",
        str(synth_root),
        "--models",
        "mfcc-logreg,cnn,short-chunk",
        "--quick",
        "--no-checks",
        "--device",
        "cpu",
        "--n-jobs",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "runs"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "the map broke" in str(result.exception)
    assert closed == [["cnn", "short-chunk"]]


def test_lanes_get_joblibs_thread_limits_unless_set_here(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    monkeypatch.setattr("joblib.cpu_count", lambda: 16)
    env = lane_environment(LanePlan(lanes=3, threads=5))
    assert env["OMP_NUM_THREADS"] == "5" and env["OPENBLAS_NUM_THREADS"] == "5"
    assert env["MKL_NUM_THREADS"] == "7"


@pytest.mark.slow
def test_a_model_that_fails_in_a_lane_fails_alone_and_gets_no_sanity_checks(
    synth_root, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    if lane_plan(RunConfig(models=["cnn", "short-chunk"], device="cpu", n_jobs=2)).lanes == 1:
        pytest.skip("one core: nothing trains side by side")
    config = tmp_path / "broken.toml"
    config.write_text("[params.cnn]\nlr = -1.0\n")  # torch's AdamW refuses it as training starts
    args = [
        "run",
        "--root",
        str(synth_root),
        "--models",
        "cnn,short-chunk",
        "--quick",
        "--no-checks",
        "--no-style-map",
        "--device",
        "cpu",
        "--n-jobs",
        "2",
        "--config",
        str(config),
        "--run-id",
        "broken",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "runs"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output  # the run finished; a model failed
    models = tmp_path / "runs" / "broken" / "models"
    board = pd.read_csv(tmp_path / "runs" / "broken" / "leaderboard.csv").set_index("model")
    assert (
        board.loc["cnn", "status"].startswith("failed")
        and board.loc["short-chunk", "status"] == "ok"
    )
    assert not (models / "cnn" / "sanity.json").exists()
    sanity = json.loads((models / "short-chunk" / "sanity.json").read_text())
    assert [check["name"] for check in sanity] == SANITY_CHECKS
