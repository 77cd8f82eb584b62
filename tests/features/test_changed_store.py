"""The changed-audio feature cache: journal folded in request order, reuse without a rewrite,
stale or unreadable files computed again, failed rows kept apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.data.audio import DecodeConfig
from harness.errors import ParameterError
from harness.features.changed import extract_changed
from harness.features.changed_store import (
    cached_keys,
    consolidate,
    journal_path,
    load_changed,
    row_record,
    save_arrays,
)
from harness.features.config import LogMelConfig

SHAPES = {"mfcc": (140,), "logmel": (4, 5)}


def _fp(key, size=100):
    return {"path": f"/audio/{key}.mp3", "size": size, "mtime_ns": 7}


def _journal(folder, change, key, *, value: float, error: str = "", size=100):
    record = row_record(
        key,
        _fp(key, size),
        error=error,
        mfcc=np.full(140, value),
        logmel=np.full((4, 5), value),
        padded=False,
    )
    save_arrays(journal_path(folder, change, key), record)


def test_the_journal_is_folded_in_request_order_and_then_reused_as_is(tmp_path):
    for key, value in ((3, 3.0), ("b", 2.0), (1, 1.0)):
        _journal(tmp_path, "gain-12dB", key, value=value)
    fingerprints = {1: _fp(1), 3: _fp(3), "b": _fp("b")}
    path = consolidate(tmp_path, "gain-12dB", fingerprints, shapes=SHAPES)
    assert not (tmp_path / "journal").exists()
    changed = load_changed(path, "gain-12dB", [1, 3, "b"])
    assert changed.keys.tolist() == [1, 3, "b"] and changed.failures.empty
    assert changed.mfcc[:, 0].tolist() == [1.0, 3.0, 2.0]
    assert changed.logmel.shape == (3, 4, 5) and changed.logmel.dtype == np.float16
    mtime = path.stat().st_mtime_ns
    assert cached_keys(tmp_path, "gain-12dB", fingerprints) == {1, 3, "b"}
    consolidate(tmp_path, "gain-12dB", fingerprints, shapes=SHAPES)
    assert path.stat().st_mtime_ns == mtime  # complete and no journal: not rewritten


def test_a_changed_audio_file_or_an_unreadable_cache_is_computed_again(tmp_path):
    _journal(tmp_path, "mp3_64k", 1, value=1.0)
    consolidate(tmp_path, "mp3_64k", {1: _fp(1)}, shapes=SHAPES)
    assert cached_keys(tmp_path, "mp3_64k", {1: _fp(1, size=101)}) == set()  # file changed
    (tmp_path / "mp3_64k.npz").write_bytes(b"PK\x03\x04 cut short")
    assert cached_keys(tmp_path, "mp3_64k", {1: _fp(1)}) == set()


def test_failed_and_lost_clips_are_kept_apart(tmp_path):
    _journal(tmp_path, "pitch+2", 1, value=1.0)
    _journal(tmp_path, "pitch+2", 2, value=np.nan, error="RuntimeError: boom")
    fingerprints = {1: _fp(1), 2: _fp(2), 9: _fp(9)}  # 9: its worker never wrote a row
    path = consolidate(tmp_path, "pitch+2", fingerprints, shapes=SHAPES)
    changed = load_changed(path, "pitch+2", [1, 2, 9])
    assert changed.keys.tolist() == [1] and changed.mfcc.shape == (1, 140)
    assert changed.failures["error"].to_dict() == {
        2: "RuntimeError: boom",
        9: "no result reached the cache",
    }
    assert cached_keys(tmp_path, "pitch+2", fingerprints) == {1, 2}  # the lost one is retried


def test_extracting_no_clips_or_an_unknown_change_is_refused(tmp_path):
    settings = {"cache_dir": tmp_path, "logmel": LogMelConfig(), "decode": DecodeConfig()}
    empty = pd.DataFrame({"path": []})
    with pytest.raises(ParameterError, match="no clips given"):
        extract_changed(empty, changes=["gain-12dB"], **settings)
    one = pd.DataFrame({"path": [str(tmp_path / "a.mp3")]}, index=[1])
    with pytest.raises(ParameterError, match="unknown audio change 'reverb'"):
        extract_changed(one, changes=["reverb"], **settings)
