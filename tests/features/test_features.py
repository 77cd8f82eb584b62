"""Features: MFCC-140 equals the reference recipe, log-mel, the cache, crash-safe resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy import stats

from harness.data.audio import DecodeConfig
from harness.data.taxonomy import packaged_header
from harness.errors import DataError, ParameterError
from harness.features import (
    LogMelConfig,
    all_stats,
    cache_keys,
    drop_failed,
    extract,
    feature_columns,
    load_feature_table,
    load_logmel,
    logmel_spectrogram,
    official_features,
)
from harness.features.cache import STALE_SECONDS
from harness.features.integrity import CacheRepairWarning

DECODE = DecodeConfig(min_duration=1.5)
LOGMEL = LogMelConfig(duration=2.0)


def _write_mp3(path: Path, *, seconds: float, sr: int = 44100, channels: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * (220 + 110 * seed) * t) * (1 + 0.5 * np.sin(2 * np.pi * t))
    y = tone[:, None] + 0.05 * rng.standard_normal((t.size, channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), sr, format="MP3")
    return path


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> pd.DataFrame:
    """Five 2.5 s clips (44.1 kHz stereo and 22.05 kHz mono), one short, one corrupt, one absent."""
    root = tmp_path_factory.mktemp("audio")
    paths = {
        2: _write_mp3(root / "000" / "000002.mp3", seconds=2.5, seed=0),
        5: _write_mp3(root / "000" / "000005.mp3", seconds=2.5, seed=1),
        10: _write_mp3(root / "000" / "000010.mp3", seconds=2.5, sr=22050, channels=1, seed=2),
        11: _write_mp3(root / "000" / "000011.mp3", seconds=1.0, seed=3),  # short
        12: root / "000" / "000012.mp3",  # corrupt
        13: root / "000" / "000013.mp3",  # missing
    }
    paths[12].write_bytes(b"not an mp3 " * 50)
    groups = ["training", "training", "validation", "training", "test", "test"]
    return pd.DataFrame({"path": [str(p) for p in paths.values()], "group": groups}, index=paths)


def _reference_mfcc140(path) -> pd.Series:
    """The dataset's reference recipe (mdeff/fma features.py), written with plain librosa."""
    import librosa

    x, sr = librosa.load(path, sr=None, mono=True)
    stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
    mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
    f = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    moments = {
        "mean": np.mean(f, axis=1),
        "std": np.std(f, axis=1),
        "skew": stats.skew(f, axis=1),
        "kurtosis": stats.kurtosis(f, axis=1),
        "median": np.median(f, axis=1),
        "min": np.min(f, axis=1),
        "max": np.max(f, axis=1),
    }
    values = {
        ("mfcc", m, f"{i + 1:02d}"): v for m, arr in moments.items() for i, v in enumerate(arr)
    }
    return pd.Series(values, dtype=np.float32).sort_index()


@pytest.fixture(scope="module")
def cached(audio, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    status = extract(audio, cache_dir=cache, logmel=LOGMEL, n_jobs=1, decode=DECODE)
    return cache, status


def test_mfcc140_equals_reference_recipe(audio, cached):
    cache, _ = cached
    ok = [2, 5, 10]
    table = load_feature_table(cache, keys=ok, decode=DECODE)
    assert list(table.columns) == list(feature_columns("mfcc"))
    for key in ok:
        ref = _reference_mfcc140(audio.at[key, "path"])
        assert list(ref.index) == list(table.columns)
        # rtol 1e-4 everywhere; the tiny atol only matters for statistics within ~0.01 of zero
        # (a skew or kurtosis is a difference of large moments: the BLAS summation order alone,
        # e.g. 1 thread vs 2 in the mel projection, moves it by ~1e-6 in librosa itself).
        ours = table.loc[key].to_numpy()
        np.testing.assert_allclose(ours, ref.to_numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(table.loc[2], table.loc[5])  # different clips, different features


def test_columns_interchangeable_with_official_file(tmp_path, cached):
    cache, _ = cached
    header = packaged_header("features")
    official = feature_columns("all")
    rows = "\n".join(f"{tid}," + ",".join(["1.5000000000e+00"] * len(official)) for tid in (2, 5))
    csv = tmp_path / "fma_metadata" / "features.csv"
    csv.parent.mkdir()
    csv.write_text(header + rows + "\n")
    theirs = official_features(tmp_path, feature_set="mfcc")
    ours = load_feature_table(cache, keys=[2, 5], decode=DECODE)
    assert theirs.columns.equals(ours.columns) and theirs.shape == (2, 140)
    both = pd.concat([theirs, ours], keys=["official", "ours"])
    assert both.shape == (4, 140) and not both.isna().any().any()
    assert official_features(csv, feature_set="all").shape == (2, 518)


def test_failed_clips_get_nan_and_status(cached):
    cache, status = cached
    assert status.loc[[2, 5, 10], "status"].tolist() == ["ok", "ok", "ok"]
    assert status.loc[[11, 12, 13], "status"].tolist() == ["short", "corrupt", "missing"]
    assert list(status.columns) == [
        "group",
        "status",
        "duration",
        "native_sr",
        "channels",
        "error",
        "warnings",
        "padded",
    ]
    assert set(status["warnings"]) == {""}  # clean tones: no clipping, DC offset or misnaming
    assert status.at[2, "native_sr"] == 44100 and status.at[10, "channels"] == 1
    table = load_feature_table(cache, keys=list(status.index), decode=DECODE)
    assert table.loc[[12, 13]].isna().all().all() and table.loc[[2, 11]].notna().all().all()
    kept = drop_failed(table)
    assert list(kept.index) == [2, 5, 10, 11]
    assert kept.attrs["n_dropped"] == 2 and kept.attrs["dropped"] == {"corrupt": 1, "missing": 1}


def test_logmel_store_shape_padding_and_recipe(audio, cached):
    import librosa

    cache, status = cached
    train = load_logmel(cache, group="training", logmel=LOGMEL, decode=DECODE)
    assert isinstance(train.data, np.memmap) and train.data.dtype == np.float16
    assert train.data.shape == (3, LOGMEL.n_mels, LOGMEL.n_frames)
    assert list(train.index.index) == [2, 5, 11] and list(train.index["row"]) == [0, 1, 2]
    assert train.index.loc[11, "padded"] and not train.index.loc[2, "padded"]
    assert status.at[11, "padded"] and not status.at[5, "padded"]
    y, _ = librosa.load(audio.at[5, "path"], sr=LOGMEL.sr)
    y = librosa.util.fix_length(y, size=LOGMEL.n_samples)
    S = librosa.feature.melspectrogram(y=y, sr=LOGMEL.sr, n_fft=1024, hop_length=512, n_mels=96)
    ref = librosa.power_to_db(S, ref=1.0, top_db=80.0)
    np.testing.assert_allclose(train.data[1].astype(np.float32), ref, atol=0.1, rtol=2e-3)
    test = load_logmel(cache, group="test", logmel=LOGMEL, decode=DECODE)
    assert np.isnan(test.data.astype(np.float32)).all()  # both test clips failed to decode


def test_logmel_config_and_htk_scale():
    assert LogMelConfig().n_frames == 1 + round(29.0 * 22050) // 512 == 1249
    with pytest.raises(ParameterError):
        LogMelConfig(fmax=20000.0)
    with pytest.raises(ParameterError):
        LogMelConfig(n_mels=0)
    y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    cfg = LogMelConfig(duration=1.0, n_mels=40)
    slaney, padded = logmel_spectrogram(y, sr=22050, config=cfg)
    htk, _ = logmel_spectrogram(y, sr=22050, config=LogMelConfig(duration=1.0, n_mels=40, htk=True))
    assert slaney.shape == htk.shape == (40, cfg.n_frames) and not padded
    assert np.abs(slaney.astype(float) - htk.astype(float)).max() > 0.5
    with pytest.raises(ParameterError):
        extract(
            pd.DataFrame({"path": ["x"], "group": ["a"]}),
            cache_dir="/tmp/x",
            feature_sets=("mfcc", "chroma"),
        )


@pytest.mark.slow
def test_all_518_matches_reference_layout(audio):
    import librosa

    x, sr = librosa.load(audio.at[2, "path"], sr=None, mono=True)
    vector = all_stats(x, sr=sr)
    cols = feature_columns("all")
    table = pd.Series(vector, index=cols)
    assert vector.shape == (518,) and table[["mfcc", "spectral_contrast", "zcr"]].notna().all()
    mfcc = _reference_mfcc140(audio.at[2, "path"])
    np.testing.assert_allclose(table["mfcc"].to_numpy(), mfcc.to_numpy(), rtol=1e-4)
    stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
    centroid = librosa.feature.spectral_centroid(S=stft)  # the reference passes no sr
    np.testing.assert_allclose(table[("spectral_centroid", "mean", "01")], centroid.mean(), 1e-4)
    cqt = np.abs(librosa.cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=84, tuning=None))
    cens = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7, bins_per_octave=12)
    np.testing.assert_allclose(table["chroma_cens"]["max"].to_numpy(), cens.max(axis=1), 1e-4)


def test_rerun_does_no_work_and_changes_recompute(audio, tmp_path):
    clips = audio.loc[[2, 5, 10]]
    first = extract(clips, cache_dir=tmp_path, logmel=LOGMEL, n_jobs=1, decode=DECODE)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    again = extract(clips, cache_dir=tmp_path, logmel=LOGMEL, n_jobs=1, decode=DECODE)
    assert again.attrs == {"n_computed": 0, "n_cached": 3}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == files
    pd.testing.assert_frame_equal(first, again)
    other = LogMelConfig(duration=2.0, n_mels=64)
    changed = extract(clips, cache_dir=tmp_path, logmel=other, n_jobs=1, decode=DECODE)
    assert changed.attrs["n_computed"] == 3
    assert load_logmel(tmp_path, group="training", logmel=other, decode=DECODE).data.shape[1] == 64
    os.utime(clips.at[10, "path"])  # new mtime: only that clip is recomputed
    touched = extract(clips, cache_dir=tmp_path, logmel=other, n_jobs=1, decode=DECODE)
    assert touched.attrs["n_computed"] == 1
    strict = DecodeConfig(min_duration=3.0)  # a status threshold: re-derived, no decoding
    restated = extract(clips, cache_dir=tmp_path, logmel=other, n_jobs=1, decode=strict)
    assert restated.attrs["n_computed"] == 0 and set(restated["status"]) == {"short"}
    quiet = DecodeConfig(min_duration=1.5, silence_rms=10.0)
    assert set(
        extract(clips, cache_dir=tmp_path, logmel=other, n_jobs=1, decode=quiet)["status"]
    ) == {"silent"}
    assert set(cache_keys(tmp_path, logmel=other)) == {"mfcc", "logmel"}
    assert load_feature_table(tmp_path, keys=[2]).attrs["status"].tolist() == ["silent"]
    with pytest.raises(DataError, match="no cached"):
        load_feature_table(tmp_path, keys=[2, 99], decode=DECODE)


KILL_SCRIPT = """
import sys, time, pandas as pd
import harness.features.worker as worker
from harness.data.audio import DecodeConfig
from harness.features import LogMelConfig, extract
slow = worker.process_clip
def process_clip(task):
    out = slow(task)
    time.sleep(0.25)
    return out
worker.process_clip = process_clip
clips = pd.read_json(sys.argv[1], orient="split")
extract(clips, cache_dir=sys.argv[2], logmel=LogMelConfig(duration=2.0), n_jobs=1,
        decode=DecodeConfig(min_duration=1.5), progress=False)
"""


@pytest.mark.slow
def test_sigkill_midway_resumes_only_unfinished(audio, tmp_path):
    base = audio.loc[[2, 5, 10, 11]]
    clips = pd.concat([base.set_axis(base.index + 1000 * i) for i in range(3)])  # 12 clips
    spec = tmp_path / "clips.json"
    clips.to_json(spec, orient="split")
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(spec), str(cache)])
    deadline = time.monotonic() + 60
    done: list[Path] = []
    while time.monotonic() < deadline and len(done) < 4:
        time.sleep(0.02)
        done = list(cache.glob("*/journal/*.npz")) if cache.exists() else []
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not list(cache.glob("*/groups/*.current"))  # killed before consolidation
    journal = {p: p.stat().st_mtime_ns for p in cache.glob("*/journal/*.npz")}
    finished = {p.name for p in journal if len(list(cache.glob(f"*/journal/{p.name}"))) == 2}
    assert 2 <= len(finished) < 12
    victim = next(p for p in journal if p.name == sorted(finished)[0])
    victim.write_bytes(victim.read_bytes()[:100])  # a damaged entry must not read as valid
    # the leftover of a write killed long ago (a fresh one may be another run's, still being
    # written: tests/features/test_cache_sharing.py)
    leftover = victim.parent / "i999.npz.123.tmp"
    leftover.write_bytes(b"half")
    stale = time.time() - STALE_SECONDS - 60
    os.utime(leftover, (stale, stale))
    with pytest.warns(CacheRepairWarning) as said:  # the damaged entry is said, by its name
        status = extract(clips, cache_dir=cache, logmel=LOGMEL, n_jobs=1, decode=DECODE)
    assert [w.filename for w in said] == [str(victim)], [(w.filename, str(w.message)) for w in said]
    assert status.attrs["n_computed"] == 12 - len(finished - {victim.name})
    assert not list(cache.glob("*/journal/*"))  # consolidated and cleaned
    clean = extract(clips, cache_dir=tmp_path / "clean", logmel=LOGMEL, n_jobs=1, decode=DECODE)
    pd.testing.assert_frame_equal(status, clean, check_like=False)
    keys = list(clips.index)
    resumed = load_feature_table(cache, keys=keys, decode=DECODE)
    fresh = load_feature_table(tmp_path / "clean", keys=keys, decode=DECODE)
    pd.testing.assert_frame_equal(resumed, fresh)
    a = load_logmel(cache, group="training", logmel=LOGMEL, decode=DECODE)
    b = load_logmel(tmp_path / "clean", group="training", logmel=LOGMEL, decode=DECODE)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.slow
def test_cli_features_on_synthetic_set(synth_root, tmp_path):
    from typer.testing import CliRunner

    from harness.cli import app

    args = ["features", "--root", str(synth_root), "--cache-dir", str(tmp_path), "--n-jobs", "1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "challenge" in first.output and " 0 from the cache" in first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and " 0 computed" in second.output
    bad = CliRunner().invoke(app, [*args, "--feature-sets", "mfcc,chroma"])
    assert bad.exit_code != 0


def test_warm_up_compiles_librosa_kernels_before_any_worker(tmp_path):
    """The parent compiles and caches the guvectorize kernels (numba #10128 race) itself."""
    code = (
        "from harness.features.config import LogMelConfig\n"
        "from harness.features.worker import open_store, warm_up\n"
        f"plans = [open_store({str(tmp_path / 'cache')!r}, n, logmel=LogMelConfig(), create=True)"
        " for n in ('all',)]\n"
        "warm_up(plans)\n"
    )
    numba_dir = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_dir)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    cached = {p.name for p in numba_dir.rglob("*.nbc")}
    assert any(name.startswith("guf-pitch") for name in cached), sorted(cached)[:10]
    assert not list((tmp_path / "cache").rglob("*.npz")), "warm_up stores nothing"


def test_warm_up_in_background_runs_in_its_own_process_and_ends_cleanly():
    from harness.features.worker import warm_up_in_background

    process = warm_up_in_background(["mfcc", "logmel"])
    assert process.pid != os.getpid()
    process.join(timeout=300)
    assert process.exitcode == 0


def test_extraction_logs_lines_when_not_on_a_terminal(capsys, monkeypatch):
    from harness.features import parallel

    monkeypatch.setattr(parallel, "LINE_EVERY_SECONDS", 0.0)
    rows = parallel.run_tasks(abs, [-1, -2, -3], n_jobs=1, scheduler=None, progress=None)
    assert sorted(rows) == [1, 2, 3]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("  features: 1/3 clips")
    assert "s left" in lines[0] and "left" not in lines[-1]
    parallel.run_tasks(abs, [-1], n_jobs=1, scheduler=None, progress=False)
    assert capsys.readouterr().out == ""
