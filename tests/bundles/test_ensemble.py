"""The ensemble row: best k on validation, the mean of calibrated probabilities (no temperature
of its own), its scores, its submission, and a bundle of bundles that `predict` reproduces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.bundles.bundle import load_bundle, sha256_file, verify_bundle
from harness.bundles.export import export_bundle
from harness.cli import app
from harness.config.run_config import RunConfig
from harness.errors import DataError
from harness.run.ensemble import add_ensemble
from harness.run.model_run import ModelOutcome
from harness.run.pipeline import run_pipeline
from harness.scoring import metrics
from harness.scoring.submission.validate import validate_submission

pytestmark = pytest.mark.slow

# a second, more regularised logistic regression by its "module:attr" name (a folder name with a
# colon), for 3 scored models; mlp is left out: its bundle's probabilities can differ from its
# run's in the last bit (BLAS threads), and this file compares them value for value
LOGREG_2 = "baselines.logistic:make_logreg"
MODELS = ["uniform", "prior", "mfcc-logreg", "knn", LOGREG_2, "svm"]
SCORED = ["mfcc-logreg", "knn", LOGREG_2]  # svm is made to fail; uniform, prior are references
GROUPS = ("validation", "test", "challenge")


@pytest.fixture(scope="module")
def run(synth_root, tmp_path_factory):
    """(run_dir, submissions folder) of a quick run of MODELS with svm broken."""
    import baselines.svm

    def broken(**_):
        raise RuntimeError("diverged")

    tmp = tmp_path_factory.mktemp("ensemble-run")
    config = RunConfig(
        root=synth_root,
        models=MODELS,
        out=tmp / "runs",
        submissions_dir=tmp / "submissions",
        cache_dir=tmp / "cache",
        quick=True,
        checks=False,
        n_jobs=1,
        run_id="ens",
        params={LOGREG_2: {"C": 0.05}},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(baselines.svm, "make_svm", broken)
        run_dir = run_pipeline(config)
    return run_dir, tmp / "submissions" / "ens"


def _npz(run_dir, model, group) -> dict[str, np.ndarray]:
    with np.load(run_dir / "models" / model / f"predictions_{group}.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _aligned(run_dir, model, group, keys) -> np.ndarray:
    arrays = _npz(run_dir, model, group)
    rows = pd.Index(arrays["keys"]).get_indexer(keys)
    assert (rows >= 0).all(), f"{model} lacks {group} clips of the ensemble"
    return arrays["proba_calibrated"][rows]


def _spec(run_dir) -> dict:
    return json.loads((run_dir / "models" / "ensemble" / "bundle" / "bundle.json").read_text())


def _calibrated_val_loss(arrays) -> float:
    labels = list(arrays["classes"])
    return metrics.log_loss(arrays["y_true"], arrays["proba_calibrated"], labels=labels)


def test_the_ensemble_row_is_scored_like_any_model(run):
    run_dir, _ = run
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    assert board.loc["svm", "status"].startswith("failed")
    row = board.loc["ensemble"]
    assert row["status"] == "ok"
    for column in (
        "val_log_loss",
        "val_macro_f1",
        "val_accuracy",
        "test_log_loss",
        "test_macro_f1",
        "test_accuracy",
        "test_log_loss_calibrated",
        "temperature",
        "submission_log_loss",
    ):
        assert np.isfinite(row[column]), column
    for group, prefix in (("validation", "val"), ("test", "test")):
        arrays = _npz(run_dir, "ensemble", group)
        scores = metrics.evaluate(arrays["y_true"], arrays["proba"], labels=list(arrays["classes"]))
        for name in ("log_loss", "macro_f1", "accuracy"):
            assert row[f"{prefix}_{name}"] == pytest.approx(scores[name], abs=1e-4), name
    # the leaderboard is still sorted by validation log loss, the ensemble in its place
    assert board["val_log_loss"].dropna().is_monotonic_increasing


def test_members_are_the_best_k_on_validation(run):
    run_dir, _ = run
    losses = {m: _calibrated_val_loss(_npz(run_dir, m, "validation")) for m in SCORED}
    ranked = sorted(losses, key=losses.get)
    val = _npz(run_dir, "ensemble", "validation")
    y, labels = val["y_true"], list(val["classes"])
    ensemble_loss = {}
    for k in (2, 3):  # every k the 3 scored models allow, recomputed from the stored arrays
        mean = np.mean([_aligned(run_dir, m, "validation", val["keys"]) for m in ranked[:k]], 0)
        ensemble_loss[k] = metrics.log_loss(y, mean, labels=labels)
    k = min(ensemble_loss, key=ensemble_loss.get)
    spec = _spec(run_dir)
    assert [m["name"] for m in spec["members"]] == ranked[:k]
    assert [m["weight"] for m in spec["members"]] == [1 / k] * k
    assert spec["selection"]["k"] == k
    assert spec["selection"]["k_val_log_loss"] == pytest.approx(
        {str(n): v for n, v in ensemble_loss.items()}, abs=1e-6
    )
    assert not {"uniform", "prior", "svm"} & {m["name"] for m in spec["members"]}
    notes = pd.read_csv(run_dir / "leaderboard.csv").set_index("model").loc["ensemble", "notes"]
    assert ", ".join(ranked[:k]) in notes


@pytest.mark.parametrize("group", GROUPS)
def test_probabilities_are_the_mean_of_the_members_calibrated_ones(run, group):
    run_dir, _ = run
    members = [m["name"] for m in _spec(run_dir)["members"]]
    ens = _npz(run_dir, "ensemble", group)
    mean = np.mean([_aligned(run_dir, m, group, ens["keys"]) for m in members], axis=0)
    np.testing.assert_allclose(ens["proba"], mean, rtol=0, atol=1e-9)
    # no temperature of its own: the members' calibrated mean is what it scores and submits
    assert float(ens["temperature"]) == _spec(run_dir)["calibration"]["temperature"] == 1.0
    np.testing.assert_allclose(ens["proba_calibrated"], mean, rtol=0, atol=1e-9)


def test_submission_validates_and_predict_on_its_bundle_reproduces_it(run, synth_root, tmp_path):
    run_dir, submissions = run
    folder = synth_root / "crowdai_fma_test"
    expected_ids = {p.stem for p in folder.glob("*.mp3")}
    submission = submissions / "ensemble.csv"
    assert validate_submission(submission, expected_ids=expected_ids) == []
    out = tmp_path / "ensemble.csv"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(run_dir / "models" / "ensemble" / "bundle"),
            str(folder),
            "--out",
            str(out),
            "--n-jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8") == submission.read_text("utf-8")  # value for value


def test_mixed_ensemble_of_mfcc_and_logmel_models_predicts_its_submission(
    bundle_run, synth_root, tmp_path
):
    run_dir, submissions = bundle_run
    bundle = load_bundle(run_dir / "models" / "ensemble", device="cpu")
    assert [b.kind for b in bundle.estimator.bundles] == ["features", "logmel"]
    out = tmp_path / "mixed.csv"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(bundle.path),
            str(synth_root / "crowdai_fma_test"),
            "--out",
            str(out),
            "--n-jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8") == (submissions / "ensemble.csv").read_text("utf-8")


def test_the_bundle_of_bundles_is_checked_end_to_end(run, tmp_path):
    run_dir, _ = run
    source = run_dir / "models" / "ensemble" / "bundle"
    manifest = json.loads((source / "manifest.json").read_text())
    assert set(manifest["files"]) == {"bundle.json", "members.json"}
    listing = json.loads((source / "members.json").read_text())["members"]
    for member in listing:
        assert sha256_file(source / member["folder"] / "manifest.json") == member["manifest_sha256"]
    exported = export_bundle(run_dir, "ensemble", tmp_path / "export")
    assert verify_bundle(exported / "bundle")["kind"] == "ensemble"
    broken = shutil.copytree(source, tmp_path / "broken")
    weights = broken / listing[0]["folder"] / "model.skops"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(DataError, match="model.skops: checksum mismatch"):
        verify_bundle(broken)


def _outcome(name, *, error=None):
    predictions = {} if error else {"validation": {}}
    return ModelOutcome(name=name, row={"model": name}, predictions=predictions, error=error)


def test_no_ensemble_without_two_scored_models_or_for_tagging(capsys):
    single = SimpleNamespace(task="genre_top")
    one_left = [_outcome("prior"), _outcome("mfcc-logreg"), _outcome("svm", error="diverged")]
    assert add_ensemble(single, None, one_left, run_dir=None) == []
    assert "No ensemble: 1 of 2 models trained and scored" in capsys.readouterr().out
    tagging = SimpleNamespace(task="genres_all")
    assert add_ensemble(tagging, None, [_outcome("mlp"), _outcome("knn")], run_dir=None) == []
    assert "genres_all task has no ensemble row" in capsys.readouterr().out
    assert add_ensemble(single, None, [_outcome("uniform"), _outcome("knn")], run_dir=None) == []
    assert capsys.readouterr().out == ""  # one model: nothing to say


def test_a_code_running_member_is_refused_with_every_checksum_recomputed(run, tmp_path):
    """A member's model.skops made a pickle that would create a file, its member manifest, the
    digest in members.json and the ensemble's manifest all recomputed: predict refuses it in
    one line and nothing runs (tests/bundles/test_bundle_trust.py: the other readers)."""
    import pickle
    import subprocess
    import sys

    from crafted import Payload, assert_refused_in_one_line, reseal  # tests/bundles/crafted.py

    run_dir, _ = run
    folder = Path(shutil.copytree(run_dir / "models" / "ensemble" / "bundle", tmp_path / "ens"))
    marker = tmp_path / "payload-ran"
    members = json.loads((folder / "members.json").read_text())
    member = folder / members["members"][0]["folder"]
    (member / "model.skops").write_bytes(pickle.dumps(Payload(marker)))
    reseal(member)
    members["members"][0]["manifest_sha256"] = sha256_file(member / "manifest.json")
    (folder / "members.json").write_text(json.dumps(members))
    reseal(folder)
    verify_bundle(folder)  # every checksum passes
    clips = json.loads((run_dir / "manifest.json").read_text())["config"]["root"]
    done = subprocess.run(
        [sys.executable, "-m", "harness", "predict", str(folder)]
        + [str(Path(clips) / "crowdai_fma_test"), "--out", str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_refused_in_one_line(done, "model.skops: not a skops estimator file")
    assert not marker.exists()
