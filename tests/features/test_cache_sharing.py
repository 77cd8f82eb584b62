"""Runs that share a feature cache at once: a file another process is writing is never removed.

Two runs on one cache (three splits of a manifest set, two at a time) once crashed: the first
to consolidate a group removed every other ``.tmp`` file of that group, among them the other
run's index, written but not yet renamed into place. The store now removes only the files its
group's pointer has just left, and leftovers :data:`~harness.features.cache.STALE_SECONDS` old.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from harness.errors import DataError
from harness.features.cache import STALE_SECONDS, FeatureStore, is_stale
from harness.features.config import LogMelConfig
from harness.features.integrity import META_COLUMNS
from harness.features.tables import LogMelSet


def _store(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path / "set", row_shape=(3,), dtype=np.float32).create({"set": 1})


def _records(keys):
    meta = {
        "status": "ok",
        "duration": 2.0,
        "native_sr": 22050,
        "channels": 1,
        "error": "",
        "warnings": "",
        "padded": False,
        "rms": 0.1,
        "size": 10,
        "mtime_ns": 1,
    }
    assert set(meta) | {"path"} == set(META_COLUMNS)
    return [(np.full(3, float(k), np.float32), dict(meta, path=f"/a/{k}.mp3")) for k in keys]


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_fresh_journal_tmp_is_kept_and_a_stale_one_removed(tmp_path):
    store = _store(tmp_path)
    fresh = store.journal_dir / "i1.npz.4242.abcdef.tmp"  # another process's clip, being written
    stale = store.journal_dir / "i2.npz.4243.abcdef.tmp"  # a crashed worker's
    fresh.write_bytes(b"x")
    stale.write_bytes(b"x")
    _age(stale, STALE_SECONDS + 60)
    store.journal_tokens()
    assert fresh.exists() and not stale.exists()


def test_consolidation_keeps_another_writers_files_and_removes_what_it_replaced(tmp_path):
    store = _store(tmp_path)
    store.write_group("training", [1, 2], _records([1, 2]))
    first = store.groups_dir.joinpath("training.current").read_text().strip()
    # another run, consolidating the same group at the same moment, has written these
    other = ["training.0123456789ab.npy", "training.0123456789ab.csv.4242.tmp"]
    for name in other:
        (store.groups_dir / name).write_bytes(b"x")
    leftover = store.groups_dir / "training.fedcba987654.npy.tmp"  # a crashed writer's, long ago
    leftover.write_bytes(b"x")
    _age(leftover, STALE_SECONDS + 60)

    store.write_group("training", [1, 2, 3], _records([1, 2, 3]))

    names = {p.name for p in store.groups_dir.iterdir()}
    assert set(other) <= names  # the other writer can still rename its index into place
    assert not any(first in name for name in names)  # the files the pointer left are gone
    assert leftover.name not in names
    group = store.read_group("training")
    assert group is not None and group.index["key"].tolist() == ["1", "2", "3"]


def test_is_stale_reads_the_modification_time(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    assert not is_stale(path)
    assert is_stale(path, now=time.time() + STALE_SECONDS + 1)
    assert not is_stale(tmp_path / "gone")


def test_log_mel_rows_of_clips_the_group_lacks_are_one_clear_error():
    index = pd.DataFrame({"row": [0, 1]}, index=pd.Index([10, 11], name="key"))
    logmel = LogMelSet(data=np.zeros((2, 4, 5), np.float16), index=index, config=LogMelConfig())
    assert logmel.rows(pd.Index([11, 10]), group="training").tolist() == [1, 0]
    with pytest.raises(
        DataError,
        match=r"1 of 2 clips \(first: 12\) have no row in the cached "
        r"log-mel group 'training'.*own --cache-dir",
    ):
        logmel.rows(pd.Index([10, 12]), group="training")


def test_consolidation_leaves_a_group_whose_name_extends_this_ones_alone(tmp_path):
    store = _store(tmp_path)
    store.write_group("test.x", [1], _records([1]))
    for path in store.groups_dir.iterdir():
        _age(path, STALE_SECONDS + 60)  # old, and still the live group "test.x"
    store.write_group("test", [2], _records([2]))
    store.write_group("test", [3], _records([3]))
    group = store.read_group("test.x")
    assert group is not None and group.index["key"].tolist() == ["1"]


def test_the_features_command_fills_the_cache_a_run_of_an_own_collection_reads(tmp_path):
    # it judged own clips by FMA's 29 s (all 'short') and cached a 29 s log-mel the run never read
    import numpy as np
    import soundfile as sf
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.config.run_config import RunConfig
    from harness.data.formats import load_dataset
    from harness.run.extraction import extract_features

    rng = np.random.default_rng(0)
    for label, freq in (("low", 220.0), ("high", 880.0)):
        (tmp_path / "own" / label).mkdir(parents=True)
        for k in range(10):
            t = np.arange(3 * 8000) / 8000
            y = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.01 * k) * t) + 0.01 * rng.normal(size=t.size)
            sf.write(tmp_path / "own" / label / f"{label}{k}.wav", y.astype(np.float32), 8000)
    args = [
        "features",
        "--root",
        str(tmp_path / "own"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--n-jobs",
        "1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "short" not in result.output  # 3 s clips of a 3 s collection are whole
    config = RunConfig(
        root=tmp_path / "own", cache_dir=tmp_path / "cache", n_jobs=1, models=["mfcc-logreg", "cnn"]
    )
    status = extract_features(config, load_dataset(root=tmp_path / "own")).status
    assert status.attrs["n_computed"] == 0 and status.attrs["n_cached"] == 20


def test_a_root_spelled_with_dot_dot_finds_the_same_cache_rows(tmp_path):
    # `..` kept in the stored path made every run from another folder decode all clips again
    from harness.features.cache import fingerprint

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.wav").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    plain = fingerprint(tmp_path / "data" / "a.wav")
    assert fingerprint(tmp_path / "elsewhere" / ".." / "data" / "a.wav") == plain
