"""An ``hf:`` model (a tiny wav2vec2 the test builds) through the CLI: run with its probe and
the report, predict with its bundle, embed, and tag refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import ParameterError
from harness.run_layout import RunLayout, SubmissionLayout

pytestmark = pytest.mark.slow


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def hf_run(synth_root, tiny_hf_model, tmp_path_factory):
    """(model name, run layout, submissions layout) of a quick run with the report."""
    tmp = tmp_path_factory.mktemp("hf-run")
    (tmp / "run.toml").write_text(f'submissions_dir = "{tmp / "submissions"}"\n')
    name = f"hf:{tiny_hf_model}"
    result = _cli(
        "run",
        "--root",
        synth_root,
        "--models",
        f"prior,{name}",
        "--out",
        tmp / "runs",
        "--cache-dir",
        tmp / "cache",
        "--config",
        tmp / "run.toml",
        "--quick",
        "--run-id",
        "hf",
        "--n-jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    return name, RunLayout(tmp / "runs" / "hf"), SubmissionLayout(tmp / "submissions" / "hf")


def test_the_probe_on_the_hf_model_is_a_leaderboard_row(hf_run):
    name, run, _ = hf_run
    board = pd.read_csv(run.leaderboard).set_index("model")
    assert board.loc[name, "status"] == "ok"
    # random weights, yet its embeddings separate the synthetic genres better than the prior
    assert board.loc[name, "val_log_loss"] < board.loc["prior", "val_log_loss"]
    selection = pd.read_csv(run.model(name).selection)
    assert set(selection["representation"]) == {"hidden_last", "hidden_mean"}
    assert selection["chosen"].sum() == 1
    report = run.report_md.read_text("utf-8")
    assert name in report
    with np.load(run.embedding(name), allow_pickle=False) as found:  # the style map's input
        assert found["embedding"].shape[1] == 32


def test_its_bundle_predicts_its_submission(hf_run, synth_root, tmp_path):
    name, run, submissions = hf_run
    out = tmp_path / "predicted.csv"
    result = _cli("predict", run.model(name).bundle, synth_root / "crowdai_fma_test", "--out", out)
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out).set_index("file_id").sort_index()
    submitted = pd.read_csv(submissions.model_csv(name)).set_index("file_id").sort_index()
    assert len(predicted) == len(submitted) > 0
    difference = (predicted - submitted[predicted.columns]).abs().to_numpy().max()
    assert difference < 1e-6


def test_embed_writes_its_layers_and_tag_refuses_it(tiny_hf_model, synth_root, tmp_path):
    name = f"hf:{tiny_hf_model}"
    clips = sorted((synth_root / "crowdai_fma_test").glob("*.mp3"))[:2]
    out = tmp_path / "hf.npz"
    result = _cli("embed", *clips, "--model", name, "--out", out, "--cache-dir", tmp_path)
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as found:
        assert found["hidden_mean_mean"].shape == (2, 32)
        assert len(found["patch_file"]) == len(found["hidden_last"]) >= 2
    refused = _cli("tag", clips[0], "--model", name)  # the CLI's main prints it as one line
    assert isinstance(refused.exception, ParameterError)
    assert "has no tags" in str(refused.exception)
