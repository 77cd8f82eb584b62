"""The no-audio path: baselines on the official features.csv, as the FMA paper's Table 3."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.config.run_config import RunConfig
from harness.data.taxonomy import packaged_header
from harness.errors import ParameterError
from harness.run.pipeline import run_pipeline

TINY = Path(__file__).parents[1] / "fixtures" / "fma_tiny"


def _metadata_only_root(tmp_path: Path) -> Path:
    """The tiny fixture's metadata (no audio directory) with a features.csv row per track."""
    root = tmp_path / "fma"
    shutil.copytree(TINY / "fma_metadata", root / "fma_metadata")
    track_ids = pd.read_csv(root / "fma_metadata" / "tracks.csv", skiprows=3, header=None)[0]
    rng = np.random.default_rng(0)
    n_columns = packaged_header("features").splitlines()[0].count(",")
    rows = [
        f"{tid}," + ",".join(f"{v:.10e}" for v in rng.normal(size=n_columns)) for tid in track_ids
    ]
    (root / "fma_metadata" / "features.csv").write_text(
        packaged_header("features") + "\n".join(rows) + "\n", encoding="utf-8"
    )
    return root


def test_baselines_train_on_official_features_without_audio(tmp_path):
    root = _metadata_only_root(tmp_path)
    config = RunConfig(
        root=root,
        models=["prior", "mfcc-logreg"],
        features="official",
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        run_id="official",
    )
    run_dir = run_pipeline(config)
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    assert (board["status"] == "ok").all()
    assert np.isfinite(board.loc["mfcc-logreg", "test_log_loss"])
    assert not (root / "fma_small").exists()
    assert not (run_dir / "checks.json").exists()  # the data checks need audio


def test_neural_models_need_audio(tmp_path):
    config = RunConfig(root=TINY, models=["crnn"], features="official", out=tmp_path)
    with pytest.raises(ParameterError, match="neural models need audio"):
        run_pipeline(config)


def test_official_features_missing_names_the_file(synth_root, tmp_path):
    from harness.errors import DataError

    config = RunConfig(
        root=synth_root, models=["mfcc-logreg"], features="official", out=tmp_path / "runs"
    )
    with pytest.raises(DataError, match=r"features\.csv: not found.*use --features audio"):
        run_pipeline(config)
    assert not (tmp_path / "runs").exists()  # a run that could not start leaves no directory
