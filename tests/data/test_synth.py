"""The synthetic FMA: real layout and header, consistent genres, splits, faults, determinism."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.data.audio import DecodeConfig, decode, decode_status_table
from harness.data.fma import audio_path, load_genres, load_tracks
from harness.data.layout import FmaLayout
from harness.data.splits import SPLITS, check_leakage
from harness.data.synth.generate import SynthConfig, generate
from harness.data.synth.metadata import ancestors, genre_counts, header_columns
from harness.data.taxonomy import CHALLENGE_GENRES, MEDIUM_COUNTS, SMALL_GENRES, packaged_header
from harness.errors import ParameterError

NO_FAULTS = {k: 0.0 for k in ("empty", "short", "silent", "corrupt", "duplicate")} | {
    "near_duplicate": 0.0,
    "mislabel": 0.0,
}


@pytest.fixture(scope="module")
def tracks(synth_root):
    return load_tracks(FmaLayout(synth_root).tracks_csv)


@pytest.fixture(scope="module")
def truth(synth_root):
    return pd.read_csv(FmaLayout(synth_root).truth_csv, index_col="track_id")


def test_header_is_byte_equal_and_all_columns_load(synth_root, tracks):
    text = FmaLayout(synth_root).tracks_csv.read_text(encoding="utf-8")
    header = packaged_header("tracks")
    assert text.startswith(header)
    assert text[len(header) :][:1].isdigit()  # data starts right after the 3 header lines
    assert list(tracks.columns) == header_columns()
    assert tracks.shape[1] == 52
    assert tracks.index.is_monotonic_increasing and tracks.index.max() < 10**6
    genres = load_genres(FmaLayout(synth_root).genres_csv)
    assert len(genres) == 163


def test_genre_columns_follow_the_taxonomy(tracks, synth_config):
    genres = load_genres(FmaLayout(synth_config.root).genres_csv)
    top = genres["top_level"]
    for tid, row in tracks.iterrows():
        g, g_all = row["track", "genres"], row["track", "genres_all"]
        assert g_all == ancestors(g), tid
        roots = {genres.at[i, "title"] for i in {int(top[x]) for x in g}}
        if pd.isna(row["track", "genre_top"]):
            assert len(roots) == 2 and row["set", "subset"] == "large", tid
        else:
            assert roots == {row["track", "genre_top"]}, tid
    small = tracks[tracks["set", "subset"] == "small"]
    assert set(small["track", "genre_top"].astype(str)) == set(SMALL_GENRES)
    assert len(small) == synth_config.n_tracks
    assert (tracks["set", "subset"] == "large").sum() == synth_config.n_multi_root


def test_multi_root_tracks_have_no_audio(tracks, synth_root):
    audio_dir = FmaLayout(synth_root).audio_dir("small")
    large = tracks.index[tracks["set", "subset"] == "large"]
    assert len(large) > 0
    assert not any(audio_path(audio_dir, t).exists() for t in large)


def test_splits_are_artist_grouped_and_populated(tracks):
    small = tracks[tracks["set", "subset"] == "small"]
    split = small["set", "split"].astype(str)
    assert set(split) == set(SPLITS)
    assert check_leakage(small, split).empty
    assert (split == "training").mean() > 0.6


def test_planted_faults_decode_to_their_status(synth_root, synth_decode_config, truth, tracks):
    audio_dir = FmaLayout(synth_root).audio_dir("small")
    small = tracks.index[tracks["set", "subset"] == "small"]
    table = decode_status_table(
        {t: audio_path(audio_dir, t) for t in small}, config=synth_decode_config, n_jobs=1
    )
    fault = truth["fault"].reindex(table.index).fillna("ok")
    expected = fault.where(fault.isin(["empty", "short", "silent", "corrupt"]), "ok")
    pd.testing.assert_series_equal(table["status"], expected, check_names=False)
    for kind in ("empty", "short", "silent", "corrupt", "duplicate", "mislabel"):
        assert (truth["fault"] == kind).sum() >= 1, kind
    assert not truth.index.duplicated().any()


def test_duplicates_cross_splits_and_artists(synth_root, truth, tracks):
    audio_dir = FmaLayout(synth_root).audio_dir("small")
    dups = truth[truth["fault"] == "duplicate"]
    assert dups["detail"].str.endswith("reencoded").any()
    for tid, detail in dups["detail"].items():
        src = int(detail.split(";")[0].removeprefix("duplicate_of="))
        same_bytes = (
            audio_path(audio_dir, tid).read_bytes() == audio_path(audio_dir, src).read_bytes()
        )
        assert same_bytes != detail.endswith("reencoded")
        assert tracks.at[tid, ("set", "split")] != tracks.at[src, ("set", "split")]
        assert tracks.at[tid, ("artist", "id")] != tracks.at[src, ("artist", "id")]
        assert tracks.at[tid, ("track", "genre_top")] == tracks.at[src, ("track", "genre_top")]


def test_mislabels_are_training_tracks_with_the_given_label(truth, tracks):
    mis = truth[truth["fault"] == "mislabel"]
    assert len(mis) >= 1
    for tid, detail in mis["detail"].items():
        true, given = (part.split("=")[1] for part in detail.split(";"))
        assert true != given
        assert tracks.at[tid, ("track", "genre_top")] == given
        assert tracks.at[tid, ("set", "split")] == "training"


def test_challenge_folder_and_answer_key(synth_root, synth_config):
    layout = FmaLayout(synth_root)
    answers = pd.read_csv(layout.answers_csv)
    assert list(answers.columns) == ["file_id", "genre"]
    files = sorted(p.stem for p in layout.test_dir.glob("*.mp3"))
    assert files == sorted(answers["file_id"]) and len(files) == synth_config.n_test
    assert set(answers["genre"]) <= set(SMALL_GENRES)
    assert not (layout.test_dir / layout.answers_csv.name).exists()


def test_checksums_match_files(synth_root):
    import hashlib

    audio_dir = FmaLayout(synth_root).audio_dir("small")
    lines = (audio_dir / "checksums").read_text().splitlines()
    assert len(lines) == len(list(audio_dir.glob("*/*.mp3")))
    digest, rel = lines[0].split("  ")
    assert hashlib.sha1((audio_dir / rel).read_bytes()).hexdigest() == digest


def _tiny(root: Path, **overrides) -> SynthConfig:
    values = {"n_tracks": 16, "duration": 1.0, "n_test": 2, "n_multi_root": 2} | overrides
    return SynthConfig(root=root, **values)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "synthetic_config.json"
    }


def test_same_seed_gives_identical_files(tmp_path):
    generate(_tiny(tmp_path / "a"), n_jobs=1, progress=False)
    generate(_tiny(tmp_path / "b"), n_jobs=2, progress=False)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 20
    assert [k for k in a if a[k] != b[k]] == []
    generate(_tiny(tmp_path / "c", seed=1), n_jobs=1, progress=False)
    c = _files(tmp_path / "c")
    assert c["fma_metadata/tracks.csv"] != a["fma_metadata/tracks.csv"]


def test_stereo_44k_clips(tmp_path):
    config = _tiny(tmp_path / "st", sr=44100, channels=2, duration=1.5, **NO_FAULTS)
    summary = generate(config, n_jobs=1, progress=False)
    assert summary.faults == {}
    path = next((tmp_path / "st" / "fma_small").glob("*/*.mp3"))
    clip = decode(path, config=DecodeConfig(min_duration=config.min_duration))
    assert (clip.status, clip.native_sr, clip.channels) == ("ok", 44100, 2)
    assert clip.duration == pytest.approx(1.5, abs=0.05)


def test_medium_counts_follow_fma_medium():
    counts = genre_counts("medium", 400)
    assert list(counts) == list(CHALLENGE_GENRES) and sum(counts.values()) == 400
    assert min(counts.values()) >= 6
    assert max(counts, key=counts.get) == max(MEDIUM_COUNTS, key=MEDIUM_COUNTS.get)
    assert genre_counts("small", 20) == dict.fromkeys(SMALL_GENRES, 2) | {
        "Electronic": 3,
        "Experimental": 3,
        "Folk": 3,
        "Hip-Hop": 3,
    }


def test_bad_configs_and_foreign_roots_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="subset"):
        SynthConfig(root=tmp_path, subset="large")
    with pytest.raises(ParameterError, match="n_tracks"):
        SynthConfig(root=tmp_path, n_tracks=3)
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ParameterError, match="not a synthetic FMA"):
        generate(_tiny(tmp_path), n_jobs=1, progress=False)
    assert (tmp_path / "mine.txt").exists()


def test_an_existing_synthetic_set_is_replaced_only_with_force(tmp_path):
    root = tmp_path / "fma"
    generate(_tiny(root, **NO_FAULTS), n_jobs=1, progress=False)
    before = _files(root)
    argv = ["data", "synth", "--root", str(root), "--n-tracks", "16", "--seed", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "harness", *argv], capture_output=True, text=True
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "already holds a synthetic FMA" in line and "--force" in line
    assert _files(root) == before  # nothing was touched
    generate(_tiny(root, seed=1, **NO_FAULTS), n_jobs=1, progress=False, overwrite=True)
    assert _files(root)["fma_metadata/tracks.csv"] != before["fma_metadata/tracks.csv"]


def test_genres_carry_sound():
    """A cheap sanity check of the music: genre recipes differ, artists colour the mix."""
    from harness.data.synth.music import random_style, render_clip

    style = random_style(np.random.default_rng(0))
    rock = render_clip(genre="Rock", style=style, seed=1, duration=2.0, sr=22050)
    again = render_clip(genre="Rock", style=style, seed=1, duration=2.0, sr=22050)
    spoken = render_clip(genre="Spoken", style=style, seed=1, duration=2.0, sr=22050)
    assert rock.shape == (44100,) and rock.dtype == np.float32
    assert np.array_equal(rock, again)
    assert np.abs(rock).max() == pytest.approx(10 ** (style.level_db / 20), rel=1e-3)
    assert not np.allclose(rock, spoken)


def test_cli_decode_check_reports_statuses(synth_root):
    from typer.testing import CliRunner

    from harness.cli import app

    result = CliRunner().invoke(app, ["data", "decode-check", "--root", str(synth_root)])
    assert result.exit_code == 0, result.output
    assert "corrupt" in result.output and "status vs planted fault" in result.output
