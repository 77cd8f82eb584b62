"""The 'short' threshold of a collection that is not FMA: from its own clip lengths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from harness.cli import app
from harness.data.clip_lengths import short_threshold, typical_duration
from harness.data.formats import load_dataset
from harness.data.prepared import decode_config_for


def write_clip(path, seconds, sr=8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), dtype=np.float32), sr)
    return path


def test_typical_duration_is_the_median_of_the_headers(tmp_path):
    paths = [write_clip(tmp_path / f"{i}.wav", s) for i, s in enumerate([10, 10, 10, 3])]
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    assert typical_duration([*paths, tmp_path / "broken.wav"]) == pytest.approx(10.0)
    assert typical_duration([tmp_path / "broken.wav"]) is None


def test_short_threshold_prefers_the_stated_durations(tmp_path):
    paths = [write_clip(tmp_path / f"{i}.wav", 10) for i in range(3)]
    assert short_threshold(None, paths) == 9.0
    assert short_threshold([20.0, 20.0, np.nan], paths) == 18.0  # the manifest's column wins
    assert short_threshold(None, [write_clip(tmp_path / "long.wav", 60)]) == 29.0  # FMA's cap
    assert short_threshold(None, []) == 29.0  # nothing readable: FMA's


def test_decode_config_of_a_folder_collection_follows_its_clips(tmp_path):
    root = tmp_path / "genres"
    for label in ("a", "b"):
        for i in range(4):
            write_clip(root / label / f"{label}{i}.wav", 10)
    write_clip(root / "a" / "cut.wav", 4)
    data = load_dataset(root=root, format="folders")
    assert decode_config_for(root, data=data).min_duration == 9.0
    assert decode_config_for(root, data=data, min_duration=2).min_duration == 2.0
    assert decode_config_for(root).min_duration == 29.0  # no data: FMA's


@pytest.mark.slow
def test_run_on_a_folder_collection_without_synthetic_config(tmp_path, monkeypatch):
    """A user's folder of 4 s clips: only the planted short clips are 'short', not all."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "by_label"
    synth = [
        "data",
        "synth",
        "--root",
        str(root),
        "--format",
        "folders",
        "--n-tracks",
        "24",
        "--duration",
        "4",
        "--n-jobs",
        "1",
    ]
    assert CliRunner().invoke(app, synth).exit_code == 0
    (root / "synthetic_config.json").unlink()  # as a user's collection: no recorded minimum
    planted = pd.read_csv(root / "synthetic_truth.csv")
    n_short = int((planted["fault"] == "short").sum())
    args = [
        "run",
        "--root",
        str(root),
        "--models",
        "prior",
        "--quick",
        "--no-checks",
        "--n-jobs",
        "1",
        "--out",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    result = CliRunner().invoke(app, [*args, "--run-id", "own"])
    assert result.exit_code == 0, result.output
    status = pd.read_csv(tmp_path / "runs" / "own" / "decode_status.csv")
    assert n_short >= 1 and (status["status"] == "short").sum() == n_short
    result = CliRunner().invoke(app, [*args, "--run-id", "strict", "--min-duration", "100"])
    assert result.exit_code == 0, result.output
    status = pd.read_csv(tmp_path / "runs" / "strict" / "decode_status.csv")
    assert (status["status"] == "short").sum() > len(status) // 2
