"""The pretrained models end to end through the CLI: run, leaderboard, bundle, predict, embed,
tag, multi-label, and a missing checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError

pytestmark = pytest.mark.slow
MODELS = "prior,musicnn-probe,musicnn-zeroshot"


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pretrained_run(synth_root, tmp_path_factory):
    """(run_dir, submissions, cache) of a quick run of the pretrained models."""
    tmp = tmp_path_factory.mktemp("pretrained-run")
    config = tmp / "run.toml"
    config.write_text(f'submissions_dir = "{tmp / "submissions"}"\n')
    result = _cli(
        "run",
        "--root",
        synth_root,
        "--models",
        MODELS,
        "--out",
        tmp / "runs",
        "--cache-dir",
        tmp / "cache",
        "--config",
        config,
        "--quick",
        "--no-checks",
        "--run-id",
        "pre",
        "--n-jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "pre", tmp / "submissions" / "pre", tmp / "cache"


def test_the_pretrained_rows_are_on_the_leaderboard(pretrained_run):
    run_dir, submissions, cache = pretrained_run
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    assert {"musicnn-probe", "musicnn-zeroshot"} <= set(board.index)
    assert (board.loc[["musicnn-probe", "musicnn-zeroshot"], "status"] == "ok").all()
    # the probe hears the synthetic genres far better than the prior
    assert board.loc["musicnn-probe", "val_log_loss"] < 0.5 * board.loc["prior", "val_log_loss"]
    selection = pd.read_csv(run_dir / "models" / "musicnn-probe" / "selection.csv")
    assert selection["chosen"].sum() == 1
    chosen = selection[selection["chosen"]].iloc[0]
    assert chosen["validation_log_loss"] == selection["validation_log_loss"].min()
    assert list((cache / "embeddings").glob("musicnn-msd-*/*.npz"))  # the cache was written
    assert (submissions / "musicnn-probe.csv").is_file()


def test_the_style_map_and_near_duplicates_hear_the_pretrained_embeddings(pretrained_run):
    run_dir, _, _ = pretrained_run
    with np.load(run_dir / "embeddings" / "musicnn-msd.npz", allow_pickle=False) as found:
        assert found["embedding"].shape[1] == 200 and found["chunks"].ndim == 3
    report = (run_dir / "report.md").read_text("utf-8")
    assert "musicnn-msd" in report  # the style map's source


def test_a_rerun_reads_the_embeddings_from_the_cache(pretrained_run, synth_root, monkeypatch):
    _, _, cache = pretrained_run
    import harness.pretrained.store as store

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded again")

    monkeypatch.setattr(store, "_embed_rows", no_embedding)
    from harness.features.config import logmel_for_clips
    from harness.features.extracted import ExtractedFeatures
    from harness.pretrained.inputs import embed_clips

    features = ExtractedFeatures(
        status=pd.DataFrame(), cache_dir=cache, logmel=logmel_for_clips(3.8)
    )
    embed_clips(features, [("musicnn-msd", "penultimate")], groups=["training"], device="cpu")
    assert features.pretrained["musicnn-msd"]["training"].layers["penultimate"].shape[2] == 200


def _lines(path):
    lines = path.read_text("utf-8").splitlines()
    return {line.split(",", 1)[0]: line for line in lines[1:]}


@pytest.mark.parametrize("model", ["musicnn-probe", "musicnn-zeroshot"])
def test_predict_with_the_bundle_reproduces_the_submission(
    pretrained_run, synth_root, tmp_path, model
):
    run_dir, submissions, _ = pretrained_run
    out = tmp_path / "out.csv"
    result = _cli(
        "predict",
        run_dir / "models" / model / "bundle",
        synth_root / "crowdai_fma_test",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert _lines(out) == _lines(submissions / f"{model}.csv")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """An mp3, a wav and a 5-minute flac."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    t = np.arange(int(5 * 22050)) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )
    sf.write(root / "a.wav", tone, 22050)
    sf.write(root / "b.mp3", tone, 22050, format="MP3")
    long = np.tile(tone, 60)  # 300 s
    sf.write(root / "long.flac", long, 22050)
    return root


def test_tag_prints_tags_for_an_mp3_a_wav_and_a_five_minute_flac(clips, tmp_path):
    out = tmp_path / "tags.csv"
    result = _cli("tag", clips, "--json", "--top-k", "3", "--out", out, "--cache-dir", tmp_path)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in rows) == ["a.wav", "b.mp3", "long.flac"]
    assert all(len(r["tags"]) == 3 and not r["error"] for r in rows)
    table = pd.read_csv(out)
    assert len(table) == 3 and "rock" in table.columns and table["rock"].between(0, 1).all()
    plain = _cli("tag", clips / "a.wav", "--cache-dir", tmp_path)
    assert plain.exit_code == 0 and plain.output.count(",") == 4  # five tags


def test_embed_writes_every_layer_per_patch_and_per_file(clips, tmp_path):
    out = tmp_path / "emb.npz"
    result = _cli("embed", clips, "--out", out, "--cache-dir", tmp_path)
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as found:
        assert found["penultimate_mean"].shape == (3, 200)
        assert found["taggram_max"].shape == (3, 50)
        per_file = np.bincount(found["patch_file"])
        long = list(found["paths"]).index(str(clips / "long.flac"))
        assert per_file[long] == 300 * 16000 // 256 // 187  # every 3 s patch of the file
        assert found["mean_pool"].shape == (per_file.sum(), 753)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["tag", "x.wav", "--model", "nope"], "unknown pretrained source 'nope'"),
        (["tag", "x.wav", "--top-k", "0"], "--top-k 0: expected a whole number >= 1"),
        (["embed", "x.wav", "--out", "x.txt"], "expected a .npz file name"),
    ],
)
def test_bad_options_are_one_line(args, expected):
    result = _cli(*args)
    assert result.exit_code == 1
    assert isinstance(result.exception, HarnessError)
    assert expected in str(result.exception) and "\n" not in str(result.exception)


def test_multi_label_task_trains_the_pretrained_models(synth_root, tmp_path):
    result = _cli(
        "run", "--root", synth_root, "--task", "genres_all", "--models", MODELS,
        "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache", "--quick", "--no-checks",
        "--no-style-map", "--run-id", "multi", "--n-jobs", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    board = pd.read_csv(tmp_path / "runs" / "multi" / "leaderboard.csv").set_index("model")
    assert (board.loc[["musicnn-probe", "musicnn-zeroshot"], "status"] == "ok").all()


def test_a_missing_checkpoint_is_one_line_before_any_work(synth_root, tmp_path, monkeypatch):
    monkeypatch.setattr("models.musicnn.weights.package_dir", lambda: tmp_path / "nowhere")
    result = _cli(
        "run", "--root", synth_root, "--models", "musicnn-probe", "--out", tmp_path / "runs",
        "--cache-dir", tmp_path / "cache", "--quick",
    )  # fmt: skip
    assert result.exit_code == 1
    message = str(result.exception)
    assert 'install them with "pip install --no-deps musicnn==0.1.0"' in message
    assert "\n" not in message
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("task", ["genre_top", "genres_all"])
def test_finetune_trains_single_and_multi_label(synth_root, tmp_path, monkeypatch, task):
    from harness.run import model_training

    # the model-sanity checks train extra copies for minutes on a CPU; not what this tests
    monkeypatch.setattr(model_training, "write_model_sanity", lambda *args, **kwargs: None)
    config = tmp_path / "run.toml"
    config.write_text(
        f'submissions_dir = "{tmp_path / "subs"}"\nstyle_map = false\n'
        # one epoch on 1 s crops, one evaluation crop: the training path, not its accuracy
        "[params.musicnn-finetune]\nepochs = 1\nchunk_frames = 64\nn_eval_chunks = 1\n"
    )
    result = _cli(
        "train", "musicnn-finetune", "--root", synth_root, "--task", task, "--config", config,
        "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache", "--quick",
        "--run-id", "ft", "--n-jobs", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    board = pd.read_csv(tmp_path / "runs" / "ft" / "leaderboard.csv").set_index("model")
    assert board.loc["musicnn-finetune", "status"] == "ok"
    spec = json.loads((tmp_path / "runs/ft/models/musicnn-finetune/bundle/bundle.json").read_text())
    assert spec["features"]["feature_set"] == "musicnn-mel"
    assert spec["features"]["logmel"]["sr"] == 16000
