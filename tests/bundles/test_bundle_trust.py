"""A bundle or run folder from someone else runs no code when read: each reader is fed a file
crafted to run code (a pickle whose ``__reduce__`` creates a marker file), with every checksum
of the bundle's ``manifest.json`` recomputed so that the checksums pass, through the CLI
(``predict``, ``export``, ``report``, ``compare``): the marker is never created, the exit code
is not 0 and the output is one line, no traceback."""

from __future__ import annotations

import json
import operator
import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from crafted import Payload, assert_refused_in_one_line, cli, reseal  # tests/bundles/crafted.py
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from harness.bundles.bundle import BUNDLE_FORMAT
from harness.bundles.estimator_file import load_estimator, save_estimator

pytestmark = pytest.mark.slow


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "payload-ran"


@pytest.fixture
def bundle_copy(bundle_run, tmp_path):
    """A copy of one model's bundle in ``tmp/run/models/<model>/bundle`` (a run folder that
    export reads), returned as its bundle folder."""

    def copy(model: str) -> Path:
        run_dir, _ = bundle_run
        target = tmp_path / "run" / "models" / model / "bundle"
        return Path(shutil.copytree(run_dir / "models" / model / "bundle", target))

    return copy


@pytest.fixture
def clips(synth_root):
    return synth_root / "crowdai_fma_test"


def test_a_code_running_estimator_file_is_refused_by_predict_and_export(
    bundle_copy, clips, marker, tmp_path
):
    folder = bundle_copy("mfcc-logreg")
    (folder / "model.skops").write_bytes(pickle.dumps(Payload(marker)))
    reseal(folder)
    done = cli("predict", folder, clips, "--out", tmp_path / "o.csv", cwd=tmp_path)
    assert_refused_in_one_line(done, "model.skops: not a skops estimator file")
    assert not marker.exists() and not (tmp_path / "o.csv").exists()
    done = cli(
        "export", tmp_path / "run", tmp_path / "dest", "--model", "mfcc-logreg", cwd=tmp_path
    )
    assert_refused_in_one_line(done, "model.skops")
    assert not marker.exists() and not (tmp_path / "dest").exists()


def test_a_code_running_torch_weights_file_is_refused_by_predict_and_export(
    bundle_copy, clips, marker, tmp_path
):
    folder = bundle_copy("cnn")
    torch.save({"settings": Payload(marker)}, folder / "model.pt")
    reseal(folder)
    done = cli("predict", folder, clips, "--out", tmp_path / "o.csv", cwd=tmp_path)
    assert_refused_in_one_line(done, "model.pt: not a plain weights file")
    done = cli("export", tmp_path / "run", tmp_path / "dest", "--model", "cnn", cwd=tmp_path)
    assert_refused_in_one_line(done, "model.pt: not a plain weights file")
    assert not marker.exists()


def test_a_crafted_bundle_json_is_refused(bundle_copy, clips, marker, tmp_path):
    folder = bundle_copy("mfcc-logreg")
    (folder / "bundle.json").write_bytes(pickle.dumps(Payload(marker)))
    reseal(folder)
    done = cli("predict", folder, clips, "--out", tmp_path / "o.csv", cwd=tmp_path)
    assert_refused_in_one_line(done, "bundle.json: unreadable bundle description")
    assert not marker.exists()


def test_a_type_beyond_the_baselines_needs_trust_type(bundle_copy, clips, tmp_path):
    folder = bundle_copy("mfcc-logreg")
    fitted = load_estimator(folder / "model.skops")
    negate = FunctionTransformer(operator.neg).fit(np.zeros((2, fitted.n_features_in_)))
    save_estimator(Pipeline([("negate", negate), ("model", fitted)]), folder / "model.skops")
    reseal(folder)
    out = tmp_path / "o.csv"
    done = cli("predict", folder, clips, "--out", out, cwd=tmp_path)
    assert_refused_in_one_line(done, "_operator.neg", "--trust-type _operator.neg")
    assert not out.exists()
    done = cli(
        "predict",
        folder,
        clips,
        "--out",
        out,
        "--trust-type",
        "_operator.neg",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    done = cli(
        "export",
        tmp_path / "run",
        tmp_path / "dest",
        "--model",
        "mfcc-logreg",
        "--trust-type",
        "_operator.neg",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # the round-2 entry point trusts what the exporter trusted, and nothing else
    assert "--trust-type _operator.neg" in (tmp_path / "dest" / "run.sh").read_text()


def _as_format_1(folder: Path, estimator) -> None:
    """Make ``folder`` a format-1 bundle whose estimator is ``model.joblib`` holding
    ``estimator`` (pickled as it is)."""
    (folder / "model.skops").unlink()
    joblib.dump(estimator, folder / "model.joblib")
    spec = json.loads((folder / "bundle.json").read_text())
    spec.update(format_version=1, weights="model.joblib")
    (folder / "bundle.json").write_text(json.dumps(spec))
    manifest = {"format_version": 1, "files": {"bundle.json": "", "model.joblib": ""}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    reseal(folder)


def test_a_format_1_pickle_is_refused_unless_trusted(bundle_copy, clips, marker, tmp_path):
    folder = bundle_copy("mfcc-logreg")
    _as_format_1(folder, Payload(marker))
    out = tmp_path / "o.csv"
    done = cli("predict", folder, clips, "--out", out, cwd=tmp_path)
    assert_refused_in_one_line(done, "model.joblib: a pickle", "re-export", "--trust-pickle")
    done = cli(
        "export", tmp_path / "run", tmp_path / "dest", "--model", "mfcc-logreg", cwd=tmp_path
    )
    assert_refused_in_one_line(done, "model.joblib: a pickle")
    assert not marker.exists() and not out.exists()


def test_trust_pickle_loads_and_export_converts_an_old_bundle(bundle_copy, clips, tmp_path):
    folder = bundle_copy("mfcc-logreg")
    _as_format_1(folder, load_estimator(folder / "model.skops"))
    out = tmp_path / "o.csv"
    done = cli("predict", folder, clips, "--out", out, "--trust-pickle", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "loading a pickle (--trust-pickle)" in done.stdout + done.stderr  # the warning
    done = cli(
        "export",
        tmp_path / "run",
        tmp_path / "dest",
        "--model",
        "mfcc-logreg",
        "--trust-pickle",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    converted = tmp_path / "dest" / "bundle"
    assert json.loads((converted / "manifest.json").read_text())["format_version"] == BUNDLE_FORMAT
    assert (converted / "model.skops").is_file() and not (converted / "model.joblib").exists()
    again = tmp_path / "again.csv"
    done = cli("predict", converted, clips, "--out", again, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert again.read_text() == out.read_text()  # the same model, now without a pickle


@pytest.fixture
def crafted_run(bundle_run, tmp_path, marker):
    """A copy of the bundle run (models' folders, leaderboard, manifest) whose every model file
    a reader could load is a code-running pickle: predictions, estimator, weights."""
    run_dir, _ = bundle_run
    copy = tmp_path / "crafted"
    shutil.copytree(
        run_dir, copy, ignore=shutil.ignore_patterns("embeddings", "figures", "report.*")
    )
    crafted = pickle.dumps(Payload(marker))
    for model in ("mfcc-logreg", "cnn"):
        folder = copy / "models" / model
        for path in [*folder.glob("predictions_*.npz"), *folder.glob("model.*")]:
            path.write_bytes(crafted)
        for path in (folder / "bundle").glob("model.*"):
            path.write_bytes(crafted)
        reseal(folder / "bundle")
    return copy


def test_report_reads_a_crafted_run_without_running_it(crafted_run, marker, tmp_path):
    done = cli("report", crafted_run, "--n-jobs", "1", cwd=tmp_path)
    assert_refused_in_one_line(done, "predictions_test.npz: cannot be read", "pickled")
    assert not marker.exists() and not (crafted_run / "report.md").exists()


def test_compare_refuses_a_crafted_manifest_or_leaderboard(
    bundle_run, crafted_run, marker, tmp_path
):
    run_dir, _ = bundle_run
    crafted = pickle.dumps(Payload(marker))
    (crafted_run / "manifest.json").write_bytes(crafted)
    done = cli("compare", run_dir, crafted_run, cwd=tmp_path)
    assert_refused_in_one_line(done, "manifest.json")
    (crafted_run / "leaderboard.csv").write_bytes(crafted)
    done = cli("compare", run_dir, crafted_run, cwd=tmp_path)
    assert_refused_in_one_line(done, "leaderboard.csv")
    assert not marker.exists()
