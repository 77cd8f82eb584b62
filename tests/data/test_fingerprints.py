"""Shift-tolerant audio fingerprints: what they match, and splits that keep copies together."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from harness.data.fingerprints import (
    audio_groups,
    band_envelope,
    connected_groups,
    logmel_envelope,
    matching_pairs,
)
from harness.data.folders import load_folders

SR = 8000


def music(seed: int, seconds: float = 6.0) -> np.ndarray:
    """Tones switching every 1/8 s: distinct per seed, never periodic within the clip."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    notes = rng.uniform(120, 2500, size=int(seconds * 8) + 1)
    f = np.repeat(notes, SR // 8)[:n]
    phase = 2 * np.pi * np.cumsum(f) / SR
    gate = np.repeat(rng.uniform(0.1, 1.0, size=len(notes)), SR // 8)[:n]
    return (0.3 * np.sin(phase) * gate).astype(np.float32)


def test_shifted_and_reencoded_copies_match_unrelated_clips_do_not(tmp_path):
    y = music(0)
    envs = {"orig": band_envelope(y, sr=SR)}
    for shift in (0.1, 1.0, 2.0):
        n = int(shift * SR)
        envs[f"rolled{shift}"] = band_envelope(np.roll(y, -n), sr=SR)
        envs[f"padded{shift}"] = band_envelope(np.concatenate([np.zeros(n), y[:-n]]), sr=SR)
    sf.write(tmp_path / "copy.mp3", y, SR, format="MP3")
    envs["mp3"] = band_envelope(sf.read(tmp_path / "copy.mp3", dtype="float32")[0], sr=SR)
    for seed in range(1, 12):
        envs[f"other{seed}"] = band_envelope(music(seed), sr=SR)
    pairs = matching_pairs(envs)
    matched = set(pairs["key_a"]) | set(pairs["key_b"])
    copies = {k for k in envs if not k.startswith("other")}
    assert matched == copies
    row = pairs[(pairs["key_a"] == "orig") & (pairs["key_b"] == "rolled1.0")]
    assert row["shift"].item() == pytest.approx(1.0, abs=0.06)  # rolled starts 1 s later
    groups = connected_groups(list(envs), pairs)
    assert groups[list(copies)].nunique() == 1 and groups.nunique() == 1 + 11


def test_a_shift_beyond_the_limit_does_not_match():
    y = music(3, seconds=10.0)
    envs = {"a": band_envelope(y, sr=SR), "b": band_envelope(np.roll(y, -3 * SR), sr=SR)}
    assert matching_pairs(envs, max_shift=2.0).empty
    assert len(matching_pairs(envs, max_shift=3.5)) == 1


def test_logmel_envelope_matches_shifted_spectrograms():
    rng = np.random.default_rng(0)
    S = rng.normal(-40, 10, size=(64, 400))  # dB
    other = rng.normal(-40, 10, size=(64, 400))
    envs = {"a": logmel_envelope(S), "b": logmel_envelope(S[:, 30:]), "c": logmel_envelope(other)}
    pairs = matching_pairs(envs, frame_rate=43.0)
    assert [tuple(p) for p in pairs[["key_a", "key_b"]].to_numpy()] == [("a", "b")]


def test_undecodable_clips_are_their_own_group(tmp_path):
    sf.write(tmp_path / "a.wav", music(1), SR)
    (tmp_path / "b.wav").write_bytes(b"RIFF" + bytes(60))
    groups, pairs = audio_groups({"a": tmp_path / "a.wav", "b": tmp_path / "b.wav"})
    assert groups.to_dict() == {"a": "audio:0", "b": "audio:1"} and pairs.empty


def test_repeated_excerpts_never_straddle_splits(tmp_path):
    root = tmp_path / "genres"
    copies = []
    for i, label in enumerate(("x", "y")):
        for j in range(12):
            y = music(100 * i + j)
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{j:02d}.wav", y, SR)
            if j < 4:  # a repeated excerpt: the same audio rotated 0.1-2 s, as FLAC
                n = int((0.1 + 0.6 * j) * SR)
                key = f"{label}/{j:02d}_again.flac"
                sf.write(root / key, np.roll(y, -n), SR, format="FLAC")
                copies.append((f"{label}/{j:02d}.wav", key))
    for seed in range(4):
        data = load_folders(root, seed=seed)
        for source, copy in copies:
            assert data.splits[source] == data.splits[copy], (seed, source)
            group = data.tracks[("set", "group")]
            assert group[source] == group[copy]
        assert set(data.splits) == {"training", "validation", "test"}


def test_silent_edges_do_not_make_unrelated_clips_alike():
    # an MP3 without a LAME header decodes with the encoder's delay before the audio and its
    # padding after: silence at both ends of every clip, which must not count as likeness
    edge = np.zeros(int(0.1 * SR), dtype=np.float32)
    envs = {
        f"clip{seed}": band_envelope(np.concatenate([edge, music(seed, 4.0), edge]), sr=SR)
        for seed in range(12)
    }
    assert matching_pairs(envs).empty
    trimmed = band_envelope(music(0, 4.0), sr=SR)
    assert abs(envs["clip0"].shape[1] - trimmed.shape[1]) <= 1  # the silent frames left out
