"""Model bundles: what a run saves, that a bundle loads alone, and each refusal's message."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from harness.bundles.bundle import BUNDLE_FORMAT, load_bundle, sha256_file, verify_bundle
from harness.cli import app
from harness.errors import DataError

pytestmark = pytest.mark.slow


@pytest.fixture
def copy_of(bundle_run, tmp_path):
    """A fresh copy of one model's bundle, to break."""

    def copy(model: str):
        run_dir, _ = bundle_run
        return shutil.copytree(run_dir / "models" / model / "bundle", tmp_path / model)

    return copy


def test_run_saves_a_complete_bundle_per_model(bundle_run):
    run_dir, _ = bundle_run
    for model, weights in (("mfcc-logreg", "model.skops"), ("cnn", "model.pt")):
        folder = run_dir / "models" / model / "bundle"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["format_version"] == BUNDLE_FORMAT
        assert set(manifest["files"]) == {"bundle.json", weights}
        for name, digest in manifest["files"].items():
            assert sha256_file(folder / name) == digest, name
        spec = json.loads((folder / "bundle.json").read_text())
        assert spec["task"] == "genre_top" and len(spec["classes"]) == 8
        assert np.isclose(sum(spec["prior"]), 1.0)
        # the exact temperature of the run's calibration, not the leaderboard's rounded one
        with np.load(run_dir / "models" / model / "predictions_validation.npz") as npz:
            assert spec["calibration"]["temperature"] == float(npz["temperature"])
        assert {"librosa", "torch", "scikit-learn", "fma-harness"} <= set(spec["versions"])


def test_neural_bundle_round_trips_settings_and_weights(bundle_run):
    run_dir, _ = bundle_run
    bundle = load_bundle(run_dir / "models" / "cnn", device="cpu")  # a model folder works too
    spec = bundle.spec
    assert spec["kind"] == "logmel" and spec["features"]["logmel"]["n_mels"] == 96
    assert spec["chunking"] == {"chunk_frames": 64, "n_eval_chunks": 2, "n_mels": 96}
    assert spec["estimator"]["model_params"] == {"channels": [8, 8, 8, 8]}
    saved = torch.load(run_dir / "models" / "cnn" / "model.pt", weights_only=True)
    state = bundle.estimator.module_.state_dict()
    assert set(state) == set(saved["state_dict"])
    for name, tensor in saved["state_dict"].items():
        assert torch.equal(state[name].cpu(), tensor), name
    assert list(bundle.estimator.classes_) == spec["model_classes"]


def test_a_changed_file_is_refused_naming_it(copy_of):
    folder = copy_of("cnn")
    spec = json.loads((folder / "bundle.json").read_text())
    spec["calibration"]["temperature"] = 1.0
    (folder / "bundle.json").write_text(json.dumps(spec))
    with pytest.raises(DataError) as caught:
        load_bundle(folder)
    message = str(caught.value)
    assert f"{folder / 'bundle.json'}: checksum mismatch" in message and "\n" not in message
    assert "tampered" in message and "fma-harness export" in message


def test_a_missing_file_is_refused_naming_it(copy_of):
    folder = copy_of("mfcc-logreg")
    (folder / "model.skops").unlink()
    with pytest.raises(DataError, match="model.skops: missing; the bundle is incomplete"):
        verify_bundle(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(DataError, match="manifest.json: missing; the bundle is incomplete"):
        verify_bundle(folder)


def test_another_format_version_is_refused(copy_of):
    folder = copy_of("cnn")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = BUNDLE_FORMAT + 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError) as caught:
        verify_bundle(folder)
    assert f"bundle format version {BUNDLE_FORMAT + 1}" in str(caught.value)
    assert f"reads version {BUNDLE_FORMAT}" in str(caught.value)


def test_a_bundle_of_another_task_is_refused(bundle_run):
    run_dir, _ = bundle_run
    with pytest.raises(DataError, match="made for task 'genre_top', not 'genres_all'"):
        load_bundle(run_dir / "models" / "mfcc-logreg" / "bundle", task="genres_all")


def test_predict_refuses_a_tampered_bundle_in_one_line(copy_of, synth_root, tmp_path):
    folder = copy_of("mfcc-logreg")
    (folder / "model.skops").write_bytes(b"not the model")
    out = tmp_path / "out.csv"
    args = ["predict", str(folder), str(synth_root / "crowdai_fma_test"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, DataError)
    assert "model.skops: checksum mismatch" in str(result.exception)
    assert not out.exists()  # refused before writing anything
