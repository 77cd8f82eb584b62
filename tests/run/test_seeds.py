"""`run --seeds`: the option's checks, the mean and std over seeds, and one two-seed run end to
end through the CLI (every model per seed, the seed columns, the report's seed checks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config.run_config import RunConfig, check_config, load_config_file
from harness.errors import ParameterError
from harness.run import model_training
from harness.run.seeds import aggregate_seeds, main_seed_config, seed_record, seed_table

METRICS = ["val_log_loss", "test_log_loss", "test_macro_f1"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _base(synth_root: Path) -> list[str]:
    return [
        "run",
        "--root",
        str(synth_root),
        "--out",
        "runs",
        "--cache-dir",
        "cache",
        "--quick",
        "--n-jobs",
        "1",
        "--models",
        "mfcc-logreg,cnn",
    ]


SEED_CASES = {
    "repeated": (["--seeds", "0,1,0"], ["--seeds 0,1,0", "lists 0 more than once"]),
    "not-a-number": (["--seeds", "0,x"], ["--seeds 0,x", "'x' is not a whole number"]),
    "negative": (["--seeds", "1,-2"], ["--seeds 1,-2", "-2 is not a whole number from 0"]),
    "empty": (["--seeds", ","], ["--seeds is empty", "leave --seeds out"]),
    "ddp": (["--seeds", "0,1", "--ddp"], ["--seeds 0,1 with --ddp", "once per seed"]),
}


@pytest.mark.parametrize("case", sorted(SEED_CASES))
def test_a_bad_seeds_option_is_refused_before_any_work(case, synth_root, workdir):
    extra, expected = SEED_CASES[case]
    result = CliRunner().invoke(app, [*_base(synth_root), *extra])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, ParameterError), repr(result.exception)
    message = str(result.exception)
    assert "\n" not in message and all(text in message for text in expected), message
    assert not (workdir / "runs").exists() and not (workdir / "cache").exists()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("seeds = [3, 3]", "lists 3 more than once"),
        ('seeds = "0,1"', "expected a list of whole numbers"),
        ("seeds = [0, 1.5]", "1.5 is not a whole number"),
        ("seeds = [0, true]", "True is not a whole number"),
        ("seeds = []", "--seeds is empty"),
    ],
)
def test_run_toml_seeds_are_checked_too(line, expected, tmp_path):
    (tmp_path / "run.toml").write_text(line + "\n")
    config = RunConfig(**load_config_file(tmp_path / "run.toml"), out=tmp_path / "runs")
    with pytest.raises(ParameterError, match="--seeds") as caught:
        check_config(config)
    assert expected in str(caught.value)


def test_run_toml_seeds_and_how_seed_and_seeds_combine(synth_root, tmp_path):
    (tmp_path / "run.toml").write_text("seed = 7\nseeds = [2, 0, 5]\n")
    config = RunConfig(
        **load_config_file(tmp_path / "run.toml"),
        root=synth_root,
        out=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
    )
    check_config(config)
    assert config.seeds == [2, 0, 5] and config.seed == 7  # seed stays the data seed
    assert main_seed_config(config).seed == 2  # the first of seeds trains the main models
    assert seed_record(config.to_dict()) == {"seed": 7, "training_seeds": [2, 0, 5]}
    single = RunConfig(seed=3)
    assert main_seed_config(single) is single  # no --seeds: the run as it always was
    assert seed_record(single.to_dict()) == {"seed": 3}


def test_mean_and_std_over_seeds_of_a_constructed_table():
    rows = {
        0: [
            {
                "model": "cnn",
                "status": "ok",
                "val_log_loss": 1.0,
                "test_log_loss": 1.2,
                "test_macro_f1": 0.5,
                "train_seconds": 9.0,
                "notes": "x",
            },
            {
                "model": "crnn",
                "status": "ok",
                "val_log_loss": 0.7,
                "test_log_loss": 0.9,
                "test_macro_f1": 0.6,
            },
        ],
        1: [
            {
                "model": "cnn",
                "status": "ok",
                "val_log_loss": 1.5,
                "test_log_loss": 1.0,
                "test_macro_f1": 0.6,
            },
            {"model": "crnn", "status": "failed: RuntimeError: boom"},
        ],
        2: [
            {
                "model": "cnn",
                "status": "ok",
                "val_log_loss": 0.8,
                "test_log_loss": 1.1,
                "test_macro_f1": 0.4,
            },
            {
                "model": "crnn",
                "status": "ok",
                "val_log_loss": 0.9,
                "test_log_loss": 0.8,
                "test_macro_f1": 0.7,
            },
        ],
    }
    table = seed_table(rows)
    assert list(table.columns) == ["model", "seed", "status", *METRICS]  # no train_seconds
    assert list(zip(table["model"], table["seed"], strict=True)) == [
        ("cnn", 0),
        ("crnn", 0),
        ("cnn", 1),
        ("crnn", 1),
        ("cnn", 2),
        ("crnn", 2),
    ]
    board = aggregate_seeds(table)
    assert list(board.index) == ["cnn", "crnn"]
    assert board.loc["cnn", "test_log_loss_mean"] == pytest.approx(1.1)
    assert board.loc["cnn", "test_log_loss_std"] == pytest.approx(0.1)  # ddof 1
    assert board.loc["cnn", "val_log_loss_std"] == pytest.approx(
        np.std([1.0, 1.5, 0.8], ddof=1), abs=5e-5
    )
    # the failed seed is left out of crnn's mean, std and count
    assert board.loc["crnn", "test_macro_f1_mean"] == pytest.approx(0.65)
    assert board.loc["crnn", "test_log_loss_std"] == pytest.approx(
        np.std([0.9, 0.8], ddof=1), abs=5e-5
    )
    assert board["n_seeds"].tolist() == [3, 2]
    assert [c for c in board.columns if c.startswith("test_log_loss")] == [
        "test_log_loss_mean",
        "test_log_loss_std",
    ]
    failed = {"model": "svm", "status": "failed: x"}
    nothing = aggregate_seeds(seed_table({0: [failed], 1: [failed]}))
    assert nothing.loc["svm", "n_seeds"] == 0


@pytest.fixture(scope="module")
def two_seed_run(synth_root, tmp_path_factory):
    """A CLI run of mfcc-logreg and a tiny cnn with --seeds 0,1 (the checkpoint folder each
    fit was given is recorded; the cnn's model-sanity checks are skipped, as in bundle_run)."""
    tmp = tmp_path_factory.mktemp("seeds")
    (tmp / "run.toml").write_text(
        "[params.cnn]\nchunk_frames = 64\nn_eval_chunks = 2\n"
        "model_params = { channels = [8, 8, 8, 8] }\n"
    )  # conftest's TINY_CNN, as bundle_run trains it
    checkpoints: list[tuple[str, int, Path | None]] = []

    def recording(run_model):
        def run(name, *args, options, **kwargs):
            checkpoints.append((name, options.seed, options.checkpoint_dir))
            return run_model(name, *args, options=options, **kwargs)

        return run

    args = [
        "run",
        "--root",
        str(synth_root),
        "--models",
        "mfcc-logreg,cnn",
        "--quick",
        "--seeds",
        "0,1",
        "--out",
        str(tmp / "runs"),
        "--cache-dir",
        str(tmp / "cache"),
        "--n-jobs",
        "1",
        "--no-checks",
        "--run-id",
        "seeds",
        "--config",
        str(tmp / "run.toml"),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        patch.setattr(model_training, "write_model_sanity", lambda *a, **k: None)
        # every seed's fit goes through model_training.fit_resumable
        patch.setattr(model_training, "run_model", recording(model_training.run_model))
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "seeds", checkpoints, result.output


@pytest.mark.slow
def test_every_model_is_trained_once_per_seed(two_seed_run):
    run_dir, checkpoints, output = two_seed_run
    per_seed = pd.read_csv(run_dir / "leaderboard_seeds.csv")
    assert sorted(zip(per_seed["model"], per_seed["seed"], strict=True)) == [
        ("cnn", 0),
        ("cnn", 1),
        ("mfcc-logreg", 0),
        ("mfcc-logreg", 1),
    ]
    assert (per_seed["status"] == "ok").all()
    main, further = run_dir / "models" / "cnn", run_dir / "seeds" / "seed1" / "models" / "cnn"
    assert (main / "bundle").is_dir() and not (further / "bundle").exists()
    assert (further / "predictions_test.npz").is_file() and not (further / "sanity.json").exists()
    seed0, seed1 = (np.load(folder / "predictions_test.npz") for folder in (main, further))
    assert seed0["keys"].tolist() == seed1["keys"].tolist()
    assert not np.allclose(seed0["proba"], seed1["proba"])  # another seed trains another cnn
    cnn_checkpoints = {seed: folder for name, seed, folder in checkpoints if name == "cnn"}
    assert set(cnn_checkpoints) == {0, 1} and cnn_checkpoints[0] != cnn_checkpoints[1]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seeds"] == {"seed": 0, "training_seeds": [0, 1]}
    stages = [row["stage"] for row in manifest["stage_seconds"]]
    assert {"seed 1: mfcc-logreg: train", "seed 1: cnn: train"} <= set(stages)
    assert "test logloss mean ± std" in output


@pytest.mark.slow
def test_the_leaderboard_holds_the_mean_and_std_of_the_per_seed_rows(two_seed_run, bundle_run):
    run_dir, _, _ = two_seed_run
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    per_seed = pd.read_csv(run_dir / "leaderboard_seeds.csv")
    metrics = [c for c in per_seed.columns if c.startswith(("val_", "test_"))]
    assert {"test_log_loss", "test_macro_f1", "val_log_loss"} <= set(metrics)
    for model, rows in per_seed.groupby("model"):
        assert board.loc[model, "n_seeds"] == 2
        for metric in metrics:
            mean, std = rows[metric].mean(), rows[metric].std()
            assert board.loc[model, f"{metric}_mean"] == pytest.approx(mean, abs=1e-4), metric
            assert board.loc[model, f"{metric}_std"] == pytest.approx(std, abs=1e-4), metric
        main_row = rows[rows["seed"] == 0].iloc[0]  # the main seed's row is the leaderboard's
        assert all(board.loc[model, m] == pytest.approx(main_row[m]) for m in metrics)
    assert pd.isna(board.loc["ensemble", "n_seeds"])  # built once, from the main seed's models
    # the main seed trains exactly as a run without --seeds (bundle_run: the same models)
    single = pd.read_csv(bundle_run[0] / "leaderboard.csv").set_index("model")
    for column in ("val_log_loss", "test_log_loss", "test_macro_f1", "submission_log_loss"):
        assert board.loc[single.index, column].tolist() == single[column].tolist(), column


@pytest.mark.slow
def test_the_report_shows_the_seed_checks(two_seed_run):
    run_dir, _, _ = two_seed_run
    report = (run_dir / "report.md").read_text("utf-8")
    assert "### seed_spread — PASS" in report
    assert "### seed_paired_comparison" in report and "per seed" in report
    assert "### seed_ranking" in report and "by test log loss" in report


@pytest.mark.slow
def test_a_single_seed_run_has_no_seed_columns(bundle_run):
    run_dir, _ = bundle_run
    columns = pd.read_csv(run_dir / "leaderboard.csv").columns
    assert "n_seeds" not in columns and not any(c.endswith(("_mean", "_std")) for c in columns)
    assert not (run_dir / "leaderboard_seeds.csv").exists() and not (run_dir / "seeds").exists()
    report = (run_dir / "report.md").read_text("utf-8")
    assert "### seed_spread — SKIP" in report and "run with --seeds 0,1,2" in report
