"""The synthetic set written as a folder per label or as a CSV manifest, and its truth file."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.checks.base import CheckResult
from harness.checks.truth import score_against_truth
from harness.cli import app
from harness.data.audio import decode
from harness.data.formats import detect_format, load_dataset
from harness.errors import ParameterError

ARGS = ["--n-tracks", "16", "--duration", "4", "--n-jobs", "1", "--seed", "0"]


@pytest.fixture(scope="module")
def folders_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "by_label"
    result = CliRunner().invoke(
        app, ["data", "synth", "--root", str(root), "--format", "folders", *ARGS]
    )
    assert result.exit_code == 0, result.output
    return root


def test_folders_set_holds_labels_truth_and_shifted_copies(folders_root):
    assert detect_format(folders_root) == "folders"
    truth = pd.read_csv(folders_root / "synthetic_truth.csv", keep_default_na=False)
    shifted = truth[truth["detail"].str.contains("shifted=")]
    assert len(shifted) >= 1
    copy, source = shifted.iloc[0]["track_id"], shifted.iloc[0]["detail"].split("=")[1]
    source = source.split(";")[0]
    assert copy.endswith(".flac") and copy.split("/")[0] == source.split("/")[0]
    seconds = float(shifted.iloc[0]["detail"].rsplit("=", 1)[1])
    assert 0.1 <= seconds <= 2.0
    corrupt = truth.loc[truth["fault"] == "corrupt", "track_id"].item()
    assert decode(folders_root / corrupt).status == "corrupt"  # listed and undecodable
    data = load_dataset(root=folders_root)
    assert data.splits[copy] == data.splits[source]  # grouped by audio
    assert len(data.classes) == 8


def test_manifest_set_lists_every_clip_with_artists(tmp_path):
    root = tmp_path / "listed"
    result = CliRunner().invoke(
        app, ["data", "synth", "--root", str(root), "--format", "manifest", *ARGS]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(root / "manifest.csv")
    assert list(frame.columns) == ["path", "label", "artist", "album", "labels"]
    truth = pd.read_csv(root / "synthetic_truth.csv", keep_default_na=False)
    assert set(truth["track_id"]) <= set(frame["path"])
    data = load_dataset(root=root / "manifest.csv")
    assert data.splits.attrs["source"] == "artist" and data.index_file == root / "manifest.csv"
    refused = CliRunner().invoke(
        app, ["data", "synth", "--root", str(root), "--format", "manifest", *ARGS]
    )
    assert isinstance(refused.exception, ParameterError)  # the CLI's one line, exit code 1
    assert "already holds a synthetic set (synthetic_config.json); pass --force" in str(
        refused.exception
    )


def test_manifest_set_without_artists_is_split_by_audio(tmp_path):
    root = tmp_path / "unknown"
    result = CliRunner().invoke(
        app, ["data", "synth", "--root", str(root), "--format", "manifest", "--no-artists", *ARGS]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(root / "manifest.csv")
    assert list(frame.columns) == ["path", "label", "labels"]
    data = load_dataset(root=root / "manifest.csv")
    assert data.splits.attrs["source"] == "audio"
    assert data.tracks[("artist", "id")].isna().all()


@pytest.mark.parametrize("fmt", ["fma", "folders"])
def test_no_artists_outside_a_manifest_is_refused(tmp_path, fmt):
    result = CliRunner().invoke(
        app,
        ["data", "synth", "--root", str(tmp_path / "x"), "--format", fmt, "--no-artists", *ARGS],
    )
    assert isinstance(result.exception, ParameterError)
    assert f"--no-artists applies to --format manifest only (got --format {fmt})" in str(
        result.exception
    )
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_an_unknown_synth_format_is_refused(tmp_path):
    from harness.data.synth.formats import generate_format
    from harness.data.synth.generate import SynthConfig

    with pytest.raises(ParameterError, match="--format 'gtzan': expected fma, folders or manif"):
        generate_format(SynthConfig(root=tmp_path / "x", n_tracks=16), format="gtzan")


def test_truth_scoring_reads_path_keys():
    truth = pd.DataFrame(
        {
            "track_id": ["a/1.mp3", "a/2.mp3", "b/3.flac"],
            "fault": ["corrupt", "duplicate", "duplicate"],
            "detail": ["", "duplicate_of=a/9.mp3", "duplicate_of=b/8.mp3;shifted=1.2"],
        }
    )
    status = pd.DataFrame({"status": ["corrupt", "empty"]}, index=["a/1.mp3", "b/7.mp3"])
    pairs = pd.DataFrame({"key_a": ["a/9.mp3"], "key_b": ["a/2.mp3"]})
    results = [
        CheckResult("audio", "decode_status", "FAIL", "x", evidence=status),
        CheckResult("duplicates", "near_identical_audio", "WARN", "x", evidence=pairs),
    ]
    scores = score_against_truth(results, truth).set_index("fault")
    assert scores.loc["corrupt", ["planted", "hits"]].tolist() == [1, 1]
    assert scores.loc["empty", "false_alarms_clean"] == 1  # b/7.mp3 carries no planted fault
    assert scores.loc["duplicate", ["planted", "hits", "recall"]].tolist() == [2, 1, 0.5]
