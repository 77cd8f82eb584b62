"""Decoding and decode statuses: ok, missing, empty, corrupt, short, silent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.data import audio, fma
from harness.data.audio import DecodeConfig, decode
from harness.errors import ParameterError

FIXTURE_AUDIO = Path(__file__).parents[1] / "fixtures" / "fma_tiny" / "fma_small"
SHORT_OK = DecodeConfig(min_duration=1.0)


def tone(seconds: float, sr: int, *, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """One file per kind of clip, MP3 unless the test needs exact samples (WAV)."""
    d = tmp_path_factory.mktemp("clips")
    paths = {k: d / f"{k}.mp3" for k in ("ok", "short", "silent", "garbage", "head", "half")}
    sf.write(paths["ok"], tone(2.0, 22050), 22050, format="MP3")
    sf.write(paths["short"], tone(0.5, 22050), 22050, format="MP3")
    sf.write(paths["silent"], np.zeros(2 * 22050, np.float32), 22050, format="MP3")
    paths["garbage"].write_bytes(np.random.default_rng(0).bytes(4000))
    data = paths["ok"].read_bytes()
    paths["head"].write_bytes(data[:300])
    paths["half"].write_bytes(data[: len(data) // 2])
    paths["empty"] = d / "empty.mp3"
    paths["empty"].write_bytes(b"")
    paths["id3"] = d / "id3.mp3"
    paths["id3"].write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x14" + b"\x00" * 20)
    paths["noframes"] = d / "noframes.wav"
    sf.write(paths["noframes"], np.zeros((0, 1), np.float32), 22050)
    paths["missing"] = d / "000" / "000010.mp3"
    stereo = np.stack([tone(1.5, 44100), np.zeros(int(1.5 * 44100), np.float32)], axis=1)
    paths["stereo"] = d / "stereo.wav"
    sf.write(paths["stereo"], stereo, 44100, subtype="FLOAT")
    return paths


def test_ok_mp3(clips):
    clip = decode(clips["ok"], config=SHORT_OK)
    assert clip.status == "ok"
    assert clip.error == ""
    assert clip.y.dtype == np.float32 and clip.y.ndim == 1
    assert (clip.sr, clip.native_sr, clip.channels) == (22050, 22050, 1)
    assert clip.duration == pytest.approx(2.0, abs=0.1)
    assert len(clip.y) == round(clip.duration * clip.sr)
    assert np.sqrt(np.mean(clip.y**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


def test_mono_average_and_resample(clips):
    native = decode(clips["stereo"], config=SHORT_OK)
    assert (native.native_sr, native.channels, native.sr) == (44100, 2, 44100)
    np.testing.assert_allclose(native.y, tone(1.5, 44100) / 2, atol=1e-6)
    both = decode(clips["stereo"], config=DecodeConfig(mono=False, min_duration=1.0))
    assert both.y.shape == (2, len(native.y))
    low = decode(clips["stereo"], config=DecodeConfig(sr=22050, min_duration=1.0))
    assert low.sr == 22050 and low.native_sr == 44100
    assert low.y.dtype == np.float32
    assert len(low.y) == pytest.approx(len(native.y) / 2, abs=2)
    assert low.duration == pytest.approx(1.5)
    # a 440 Hz tone keeps its frequency after resampling
    spectrum = np.abs(np.fft.rfft(low.y))
    assert np.fft.rfftfreq(len(low.y), 1 / 22050)[spectrum.argmax()] == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("missing", "missing", "no file at"),
        ("empty", "empty", "0-byte file"),
        ("id3", "empty", "ID3 tag only"),
        ("noframes", "empty", "decoded 0 frames"),
        ("garbage", "corrupt", "LibsndfileError: Error opening"),
        ("head", "corrupt", "LibsndfileError"),
    ],
)
def test_clips_without_audio(clips, kind, status, error):
    clip = decode(clips[kind], config=DecodeConfig(sr=16000))
    assert clip.status == status
    assert clip.y is None
    assert error in clip.error
    assert clip.sr == 16000


def test_short_and_silent_keep_samples(clips):
    short = decode(clips["short"], config=SHORT_OK)
    assert short.status == "short"
    assert short.y is not None and short.duration < 1.0
    assert decode(clips["ok"]).status == "short"  # default min_duration is 29 s
    silent = decode(clips["silent"], config=SHORT_OK)
    assert silent.status == "silent"
    assert silent.y is not None and len(silent.y) > 0
    assert decode(clips["silent"], config=DecodeConfig(min_duration=1.0, silence_rms=0)).status == (
        "ok"
    )


def test_truncated_mp3_decodes_shorter(clips):
    """libsndfile does not raise on a truncated MP3: the loss shows only in the length."""
    full = decode(clips["ok"], config=SHORT_OK)
    half = decode(clips["half"], config=SHORT_OK)
    assert half.status == "short"
    assert 0.2 * full.duration < half.duration < 0.8 * full.duration


def test_config_validation():
    with pytest.raises(ParameterError, match="sr must be a positive int"):
        DecodeConfig(sr=0)
    with pytest.raises(ParameterError):
        DecodeConfig(min_duration=-1)


def test_status_table(clips):
    keys = ["ok", "short", "silent", "garbage", "empty", "missing", "half"]
    table = audio.decode_status_table(
        {k: clips[k] for k in keys}, config=SHORT_OK, n_jobs=1, progress=False
    )
    assert list(table.columns) == list(audio.TABLE_COLUMNS)
    assert list(table.index) == keys
    assert table["status"].to_dict() == {
        "ok": "ok",
        "short": "short",
        "silent": "silent",
        "garbage": "corrupt",
        "empty": "empty",
        "missing": "missing",
        "half": "short",
    }
    assert set(table["status"]) <= set(audio.STATUSES)
    assert table.at["ok", "native_sr"] == 22050 and table.at["ok", "channels"] == 1
    assert table.at["missing", "duration"] == 0.0
    assert table.at["ok", "error"] == ""
    assert "decoder: " in table.at["garbage", "error"]  # mpg123's notes, captured
    assert table.at["ok", "path"] == str(clips["ok"])


def test_status_table_parallel_matches_fixture():
    paths = {t: fma.audio_path(FIXTURE_AUDIO, t) for t in (2, 5, 10, 140)}
    table = audio.decode_status_table(paths, config=SHORT_OK, n_jobs=2, progress=False)
    assert table["status"].to_dict() == {2: "ok", 5: "ok", 10: "missing", 140: "empty"}
    assert table.loc[2, ["native_sr", "channels"]].tolist() == [44100, 2]
    assert table.at[5, "duration"] == pytest.approx(1.0, abs=0.06)
    serial = audio.decode_status_table(paths, config=SHORT_OK, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(table, serial)


def test_status_table_empty_and_progress(clips):
    table = audio.decode_status_table({}, n_jobs=1)
    assert table.empty and list(table.columns) == list(audio.TABLE_COLUMNS)
    shown = audio.decode_status_table({"ok": clips["ok"]}, n_jobs=1, progress=True)
    assert shown.at["ok", "status"] == "short"


def test_the_decoders_own_lines_go_to_the_clip_not_to_stderr(clips, capfd):
    """mpg123 writes straight to file descriptor 2 from C ("Illegal Audio-MPEG-Header ...
    Trying to resync", "Xing stream size off"): decode keeps those lines in the clip's error
    and the terminal sees none of them, whatever the verbosity."""
    garbage = decode(clips["garbage"], config=SHORT_OK)
    half = decode(clips["half"], config=SHORT_OK)
    ok = decode(clips["ok"], config=SHORT_OK)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert garbage.status == "corrupt" and "; decoder: " in garbage.error
    assert garbage.error.startswith("LibsndfileError")  # the decoder's exception first
    assert half.status == "short" and half.error.startswith("decoder: ")
    assert "Xing stream size" in half.error  # what tells a truncated clip from a short one
    assert ok.status == "ok" and ok.error == ""
