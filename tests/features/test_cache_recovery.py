"""A cache nothing can poison: damaged or partial entries are said, ignored and recomputed.

Fast tests damage a tiny cache one way at a time and read it back through the store; the CLI
tests damage a copy of the session set's cache (a truncated group .npy, a truncated group .csv,
an empty number in an index row, a truncated journal .npz) and run ``features`` twice and
``check``: every command exits 0 and the recomputed rows equal the undamaged cache's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.data.audio import DecodeConfig
from harness.features import LogMelConfig, extract, load_feature_table, load_logmel, worker
from harness.features import runner as feature_runner
from harness.features.integrity import CacheRepairWarning
from harness.features.worker import open_store

SR = 22050
DECODE = DecodeConfig(min_duration=1.5)
LOGMEL = LogMelConfig(duration=2.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> pd.DataFrame:
    """Four 2 s WAV clips in two groups."""
    root = tmp_path_factory.mktemp("wavs")
    t = np.arange(2 * SR) / SR
    paths = {}
    for key in (1, 2, 3, 4):
        paths[key] = root / f"{key:06d}.wav"
        sf.write(paths[key], (0.3 * np.sin(2 * np.pi * 110 * key * t)).astype(np.float32), SR)
    groups = ["training", "training", "training", "test"]
    return pd.DataFrame({"path": [str(p) for p in paths.values()], "group": groups}, index=paths)


def _extract(clips: pd.DataFrame, cache: Path) -> pd.DataFrame:
    return extract(clips, cache_dir=cache, logmel=LOGMEL, n_jobs=1, decode=DECODE)


def _group_file(
    cache: Path, feature_set: str, group: str, suffix: str, *, logmel: LogMelConfig = LOGMEL
) -> Path:
    root = Path(open_store(cache, feature_set, logmel=logmel, create=False).root)
    token = (root / "groups" / f"{group}.current").read_text().strip()
    return root / "groups" / f"{group}.{token}{suffix}"


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _set_cell(path: Path, key: str, column: str, value: str) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[table["key"] == key, column] = value
    path.write_text(table.to_csv(index=False))


def _drop_column(path: Path, column: str) -> None:
    pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=column).to_csv(
        path, index=False
    )


def _said(record, path: Path) -> bool:
    return any(w.category is CacheRepairWarning and w.filename == str(path) for w in record)


DAMAGES = {
    "truncated npy": ("mfcc", ".npy", _truncate),
    "truncated csv": ("logmel", ".csv", _truncate),
    "empty rms": ("mfcc", ".csv", lambda p: _set_cell(p, "2", "rms", "")),
    "empty duration": ("logmel", ".csv", lambda p: _set_cell(p, "1", "duration", "")),
    "unknown status": ("mfcc", ".csv", lambda p: _set_cell(p, "3", "status", "")),
    "no warnings column": ("mfcc", ".csv", lambda p: _drop_column(p, "warnings")),
    "garbage csv": ("mfcc", ".csv", lambda p: p.write_bytes(b"\xff\xfe\x00" * 50)),
    "garbage npy": ("logmel", ".npy", lambda p: p.write_bytes(b"NUMPY" * 10)),
    "missing npy": ("mfcc", ".npy", lambda p: p.unlink()),
}
ROW_DAMAGES = {"empty rms": 1, "empty duration": 1, "unknown status": 1}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_group_is_said_and_recomputed(clips, tmp_path, damage):
    feature_set, suffix, spoil = DAMAGES[damage]
    clean = _extract(clips, tmp_path / "clean")
    cache = tmp_path / "cache"
    shutil.copytree(tmp_path / "clean", cache)
    target = _group_file(cache, feature_set, "training", suffix)
    spoil(target)
    with pytest.warns(CacheRepairWarning) as record:
        repaired = _extract(clips, cache)
    assert _said(record, target), [str(w.message) for w in record]
    assert repaired.attrs["n_computed"] == ROW_DAMAGES.get(damage, 3)
    pd.testing.assert_frame_equal(repaired, clean)
    again = _extract(clips, cache)
    assert again.attrs["n_computed"] == 0
    keys = list(clips.index)
    pd.testing.assert_frame_equal(
        load_feature_table(cache, keys=keys), load_feature_table(tmp_path / "clean", keys=keys)
    )
    np.testing.assert_array_equal(
        load_logmel(cache, group="training", logmel=LOGMEL).data,
        load_logmel(tmp_path / "clean", group="training", logmel=LOGMEL).data,
    )


def test_pointer_to_missing_files_is_said(clips, tmp_path):
    _extract(clips, tmp_path)
    pointer = _group_file(tmp_path, "mfcc", "test", ".npy").with_name("test.current")
    pointer.write_text("0123456789ab")
    with pytest.warns(CacheRepairWarning, match="missing"):
        status = _extract(clips, tmp_path)
    assert status.attrs["n_computed"] == 1 and set(status["status"]) == {"ok"}
    pointer.write_text("../../elsewhere")
    with pytest.warns(CacheRepairWarning, match="names no group files"):
        assert _extract(clips, tmp_path).attrs["n_computed"] == 1


def test_damaged_journal_entry_is_deleted_and_recomputed(clips, tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run dies after the workers, before consolidation

    with monkeypatch.context() as patch:
        patch.setattr(feature_runner, "_consolidate", killed)
        with pytest.raises(KeyboardInterrupt):
            _extract(clips, tmp_path)
    store = open_store(tmp_path, "mfcc", logmel=LOGMEL, create=False).store()
    damaged = store.journal_path(2)
    _truncate(damaged)
    with pytest.warns(CacheRepairWarning) as record:
        status = _extract(clips, tmp_path)
    assert _said(record, damaged) and status.attrs["n_computed"] == 1
    assert set(status["status"]) == {"ok"} and not list(tmp_path.glob("*/journal/*"))


def test_journal_meta_with_a_nan_number_is_refused(clips, tmp_path):
    store = open_store(tmp_path, "mfcc", logmel=LOGMEL, create=True).store()
    meta = {
        "status": "silent",
        "duration": 2.0,
        "native_sr": SR,
        "channels": 1,
        "error": "",
        "warnings": "",
        "padded": False,
        "rms": float("nan"),
        "path": "x",
        "size": 1,
        "mtime_ns": 1,
    }
    store.write_clip(1, np.zeros(store.row_shape, np.float32), meta)
    with pytest.warns(CacheRepairWarning, match="rms is nan"):
        assert store.read_clip(1) is None
    assert not store.journal_path(1).exists()
    store.write_clip(1, np.zeros(store.row_shape, np.float32), dict(meta, rms=0.0))
    assert store.read_clip(1, values=False)[1]["rms"] == 0.0


def test_lost_journal_entry_is_failed_now_and_recomputed_next(clips, tmp_path, monkeypatch):
    def lost(self, key, *, values=True):  # the entry vanishes between worker and consolidation
        return None if (values and key == 3) else real(self, key, values=values)

    real = worker.FeatureStore.read_clip
    with monkeypatch.context() as patch:
        patch.setattr(worker.FeatureStore, "read_clip", lost)
        status = _extract(clips, tmp_path)
    assert status.at[3, "status"] == "failed" and "unreadable" in status.at[3, "error"]
    healed = _extract(clips, tmp_path)
    assert healed.attrs["n_computed"] == 1 and healed.at[3, "status"] == "ok"


def test_worker_refuses_non_finite_features_of_an_ok_clip(tmp_path):
    """Finite but absurd samples (1e30) decode as ok; their power overflows float32, so the
    features come out inf / NaN: the worker refuses to cache them and the clip is failed."""
    t = np.arange(2 * SR) / SR
    path = tmp_path / "huge.wav"
    sf.write(path, (1e30 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR, subtype="FLOAT")
    clips = pd.DataFrame({"path": [str(path)], "group": ["training"]}, index=[1])
    status = _extract(clips, tmp_path / "cache")
    assert status.at[1, "status"] == "failed" and "clipping" in status.at[1, "warnings"]
    assert "NonFiniteFeatures" in status.at[1, "error"] and "'ok'" in status.at[1, "error"]
    assert load_feature_table(tmp_path / "cache", keys=[1]).isna().all().all()
    assert np.isnan(load_logmel(tmp_path / "cache", group="training", logmel=LOGMEL).data).all()


# -- the CLI on the session's synthetic set -------------------------------------------------


@pytest.fixture(scope="module")
def warm(synth_root, tmp_path_factory) -> tuple[Path, Path, list]:
    """A copy of the session set and its complete cache, made once: (root, cache, keys)."""
    from typer.testing import CliRunner

    from harness.cli import app

    base = tmp_path_factory.mktemp("warm")
    root, cache = base / "fma", base / "cache"
    shutil.copytree(synth_root, root)
    args = ["features", "--root", str(root), "--cache-dir", str(cache), "--n-jobs", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    store = open_store(cache, "mfcc", logmel=_cli_logmel(root), create=False).store()
    keys = []
    for name in store.group_names():
        index = store.read_group(name).index
        pairs = zip(index["kind"], index["key"], strict=True)
        keys += [int(k) if c == "i" else k for c, k in pairs]
    return root, cache, keys


def _cli_logmel(root: Path) -> LogMelConfig:
    """The log-mel settings ``fma-harness features`` (and a run) use for the set at ``root``."""
    from harness.data.prepared import decode_config_for
    from harness.features.config import logmel_for_clips

    return logmel_for_clips(decode_config_for(root).min_duration)


def _synth_group_file(cache: Path, feature_set: str, suffix: str, root: Path) -> Path:
    return _group_file(cache, feature_set, "training", suffix, logmel=_cli_logmel(root))


def _first_row_rms_empty(path: Path) -> None:
    _set_cell(path, pd.read_csv(path, dtype=str)["key"].iloc[0], "rms", "")


def _journal_damage(root: Path, cache: Path, monkeypatch) -> Path:
    """Drop the training groups, rerun with consolidation killed, truncate one journal file."""
    from harness.commands.features import build_clips
    from harness.data.prepared import decode_config_for

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    for current in cache.glob("*/groups/training.current"):
        current.unlink()
    clips = build_clips(root, subset="small", resplit=False, seed=0, test_dir=None)
    with monkeypatch.context() as patch:
        patch.setattr(feature_runner, "_consolidate", killed)
        with pytest.raises(KeyboardInterrupt):
            extract(
                clips,
                cache_dir=cache,
                n_jobs=1,
                decode=decode_config_for(root),
                logmel=_cli_logmel(root),
            )
    plan = open_store(cache, "logmel", logmel=_cli_logmel(root), create=False)
    victim = sorted(Path(plan.root, "journal").glob("*.npz"))[0]
    _truncate(victim)
    return victim


CLI_DAMAGES = {
    "truncated npy": ("mfcc", ".npy", _truncate),
    "truncated csv": ("logmel", ".csv", _truncate),
    "empty rms": ("mfcc", ".csv", _first_row_rms_empty),
    "truncated journal": None,
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(CLI_DAMAGES))
def test_cli_commands_survive_a_damaged_cache(warm, tmp_path, monkeypatch, damage):
    from typer.testing import CliRunner

    from harness.cli import app

    root, clean, keys = warm
    cache = tmp_path / "cache"
    shutil.copytree(clean, cache)
    if CLI_DAMAGES[damage] is None:
        target = _journal_damage(root, cache, monkeypatch)
    else:
        feature_set, suffix, spoil = CLI_DAMAGES[damage]
        target = _synth_group_file(cache, feature_set, suffix, root)
        spoil(target)
    args = ["--root", str(root), "--cache-dir", str(cache), "--n-jobs", "1"]
    runner = CliRunner()
    with pytest.warns(CacheRepairWarning) as record:
        first = runner.invoke(app, ["features", *args])
    assert first.exit_code == 0, first.output
    assert _said(record, target), [str(w.message) for w in record]
    second = runner.invoke(app, ["features", *args])
    assert second.exit_code == 0 and " 0 computed" in second.output, second.output
    checked = runner.invoke(app, ["check", *args, "--out", str(tmp_path / "checks")])
    assert checked.exit_code == 0, checked.output
    results = json.loads((tmp_path / "checks" / "checks.json").read_text())
    verdicts = {(r["family"], r["name"]): r["verdict"] for r in results}
    assert verdicts[("features", "non_finite_values")] != "FAIL"
    pd.testing.assert_frame_equal(
        load_feature_table(cache, keys=keys), load_feature_table(clean, keys=keys)
    )
    for group in ("training", "test"):
        np.testing.assert_array_equal(
            load_logmel(cache, group=group, logmel=_cli_logmel(root)).data,
            load_logmel(clean, group=group, logmel=_cli_logmel(root)).data,
        )
