"""The style map end to end: a run embeds every clip per neural model and for MFCC-140, maps
them, and reports the style map and the near-duplicate pairs; ``--no-style-map`` skips it all.

The embedding side reuses the session's ``bundle_run`` (mfcc-logreg and a tiny cnn, quick,
through ``run_pipeline``); the CLI side runs ``fma-harness run --no-style-map`` with the same
models on the same feature cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.features.extracted import FAILED_STATUSES, NO_SIGNAL_STATUSES

pytestmark = pytest.mark.slow

# the cnn made tiny, as bundle_run's (tests/pipeline/conftest.py)
TINY_CNN_TOML = """[params.cnn]
chunk_frames = 64
n_eval_chunks = 2
model_params = { channels = [8, 8, 8, 8] }
"""


def usable(run_dir):
    """Key (str) -> group of every clip a model sees (decoded, not silent)."""
    status = pd.read_csv(run_dir / "decode_status.csv", dtype={"key": str}, index_col=0)
    seen = ~status["status"].isin(FAILED_STATUSES + NO_SIGNAL_STATUSES)
    return dict(zip(status.index[seen].astype(str), status["group"][seen], strict=True))


def stages(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return [row["stage"] for row in manifest["stage_seconds"]]


def test_every_clip_is_embedded_mapped_and_reported(bundle_run):
    run_dir, _ = bundle_run
    expected = usable(run_dir)
    assert "challenge" in set(expected.values())
    for source in ("cnn", "mfcc-140"):
        with np.load(run_dir / "embeddings" / f"{source}.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        assert dict(zip(arrays["keys"], arrays["groups"], strict=True)) == expected
        n = len(expected)
        assert arrays["embedding"].dtype == np.float32 and len(arrays["embedding"]) == n
        assert arrays["map"].shape == (n, 2) and np.isfinite(arrays["map"]).all()
        unlabelled = arrays["labels"] == ""
        assert np.array_equal(unlabelled, arrays["groups"] == "challenge")
        assert str(arrays["source"]) == source
    with np.load(run_dir / "embeddings" / "cnn.npz") as npz:
        width = npz["embedding"].shape[1]
        assert npz["chunks"].shape == (len(expected), 2, width) and npz["chunks"].dtype == "f2"
    assert {"mfcc-140: embeddings", "cnn: embeddings"} <= set(stages(run_dir))
    report = (run_dir / "report.md").read_text("utf-8")
    assert "## Style map" in report
    for source in ("cnn", "mfcc-140"):
        section = report.split(f"### {source} — ")[1].split("###")[0]
        assert section.split("\n")[0] in ("PASS", "WARN")
        assert "kNN purity" in section and "silhouette" in section and "ARI" in section
        assert "year panel from album.date_released" in section
    assert "### unlabelled_neighbours — PASS" in report
    assert "### embedding_near_duplicates — " in report and "planted duplicates" in report
    neighbours = pd.read_csv(run_dir / "embeddings" / "unlabelled_neighbours.csv", dtype=str)
    challenge = {k for k, g in expected.items() if g == "challenge"}
    for source in ("cnn", "mfcc-140"):
        assert set(neighbours.loc[neighbours["source"] == source, "key"]) == challenge


def test_no_style_map_from_the_command_line(bundle_run, synth_root, tmp_path, monkeypatch):
    from harness.run import model_training

    monkeypatch.setattr(model_training, "write_model_sanity", lambda *args, **kwargs: None)
    run_dir, _ = bundle_run
    submissions = f'submissions_dir = "{tmp_path / "submissions"}"\n'
    (tmp_path / "run.toml").write_text(submissions + TINY_CNN_TOML)
    args = [
        "run",
        "--root",
        str(synth_root),
        "--models",
        "mfcc-logreg,cnn",
        "--quick",
        "--no-style-map",
        "--no-checks",
        "--config",
        str(tmp_path / "run.toml"),
        "--out",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(run_dir.parents[1] / "cache"),
        "--run-id",
        "plain",
        "--n-jobs",
        "1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    plain = tmp_path / "runs" / "plain"
    assert not (plain / "embeddings").exists()
    assert not any(stage.endswith(": embeddings") for stage in stages(plain))
    report = (plain / "report.md").read_text("utf-8")
    for source in ("cnn", "mfcc-140"):
        assert f"### {source} — SKIP" in report
    assert "cnn: style map off for this run (--no-style-map" in report
    assert "### embedding_near_duplicates — SKIP" in report


def test_run_toml_takes_style_map_and_refuses_a_non_boolean(tmp_path):
    from harness.config.run_config import RunConfig, check_config, load_config_file
    from harness.errors import ParameterError

    (tmp_path / "run.toml").write_text("style_map = false\n")
    assert RunConfig(**load_config_file(tmp_path / "run.toml")).style_map is False
    with pytest.raises(ParameterError, match="style_map 'no': expected true or false"):
        check_config(RunConfig(style_map="no"))
