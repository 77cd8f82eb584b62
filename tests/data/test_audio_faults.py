"""Audio faults are classified, never propagated: NaN / inf samples (``non_finite``), clipping,
DC offset and content that is not what the extension says (warnings), through ``decode``, the
status table and every later command (features twice, check) on a copy of the synthetic set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.data import audio
from harness.data.audio import DecodeConfig, decode, sniff_format, warning_flags

SR = 22050
SHORT_OK = DecodeConfig(min_duration=1.0)


def tone(seconds: float = 2.0, *, amp: float = 0.3, offset: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (offset + amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def with_bad_samples(value: float, *, seconds: float = 2.0, at: int = 1000) -> np.ndarray:
    y = tone(seconds)
    y[at : at + 50] = value
    return y


def write_float_wav(path: Path, y: np.ndarray) -> Path:
    """A float32 WAV (it can hold NaN and inf), whatever the extension of ``path``."""
    sf.write(path, y, SR, format="WAV", subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def faults(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("faults")
    stereo_inf = np.stack([tone(), with_bad_samples(-np.inf)], axis=1)
    square = np.sign(tone(amp=1.0)).astype(np.float32)  # every sample at full scale
    paths = {
        "nan": write_float_wav(d / "nan.wav", with_bad_samples(np.nan)),
        "inf": write_float_wav(d / "inf.wav", with_bad_samples(np.inf)),
        "stereo_inf": write_float_wav(d / "stereo_inf.wav", stereo_inf),
        "nan_as_mp3": write_float_wav(d / "nan_as.mp3", with_bad_samples(np.nan)),
        "clipped": write_float_wav(d / "clipped.wav", square),
        "dc": write_float_wav(d / "dc.wav", tone(amp=0.2, offset=0.3)),
        "wav_as_mp3": write_float_wav(d / "wav_as.mp3", tone()),
        "clean_wav": write_float_wav(d / "clean.wav", tone()),
    }
    paths["mp3"] = d / "clean.mp3"
    sf.write(paths["mp3"], tone(), SR, format="MP3")
    paths["flac_as_ogg"] = d / "flac_as.ogg"
    sf.write(paths["flac_as_ogg"], tone(), SR, format="FLAC")
    return paths


@pytest.mark.parametrize("kind", ["nan", "inf", "stereo_inf", "nan_as_mp3"])
def test_non_finite_samples_are_a_failure_status(faults, kind):
    clip = decode(faults[kind], config=SHORT_OK)
    assert clip.status == "non_finite" and clip.y is None
    assert clip.rms == 0.0 and clip.duration == pytest.approx(2.0)
    word = "NaN" if "nan" in kind else "infinite"
    assert f"50 {word}" in clip.error and "first at 0.045 s" in clip.error
    resampled = decode(faults[kind], config=DecodeConfig(sr=16000, min_duration=1.0))
    assert resampled.status == "non_finite" and resampled.sr == 16000


@pytest.mark.parametrize(
    ("kind", "flags", "detail"),
    [
        ("clipped", ["clipping"], "100.00% of samples at |x| >= 0.999"),
        ("dc", ["dc_offset"], "mean +0.300 in channel 1"),
        ("wav_as_mp3", ["extension_mismatch"], ".mp3 file holds WAV data"),
        ("flac_as_ogg", ["extension_mismatch"], ".ogg file holds FLAC data"),
        ("clean_wav", [], ""),
        ("mp3", [], ""),
    ],
)
def test_warnings_keep_the_clip_usable(faults, kind, flags, detail):
    clip = decode(faults[kind], config=SHORT_OK)
    assert clip.status == "ok" and clip.y is not None and np.isfinite(clip.y).all()
    assert warning_flags(clip.warnings) == flags
    assert detail in clip.warnings
    assert clip.error == ""


def test_warnings_do_not_change_samples(faults):
    """A clip's samples and RMS do not depend on its name (WAV bytes under .wav or .mp3)."""
    named_wav, named_mp3 = decode(faults["clean_wav"]), decode(faults["wav_as_mp3"])
    np.testing.assert_array_equal(named_wav.y, named_mp3.y)
    assert named_wav.rms == named_mp3.rms and named_wav.status == named_mp3.status == "short"


def test_sniff_format_and_flags():
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVE") == "WAV"
    assert sniff_format(b"fLaC\x00\x00\x00\x22") == "FLAC"
    assert sniff_format(b"OggS\x00\x02") == "Ogg"
    assert sniff_format(b"ID3\x04\x00\x00\x00\x00\x00\x14") == "MP3"
    assert sniff_format(b"\xff\xfb\x90\x64") == "MP3" and sniff_format(b"\xff\xf3\x80") == "MP3"
    assert sniff_format(b"FORM\x00\x00\x00\x00AIFF") == "AIFF"
    assert sniff_format(b"not audio at all") == "" and sniff_format(b"") == ""
    assert warning_flags("") == []
    assert warning_flags("clipping (2.00% of samples); dc_offset (mean +0.2)") == [
        "clipping",
        "dc_offset",
    ]


def test_status_table_records_statuses_and_warnings(faults):
    keys = ["nan", "inf", "clipped", "wav_as_mp3", "mp3"]
    table = audio.decode_status_table(
        {k: faults[k] for k in keys}, config=SHORT_OK, n_jobs=1, progress=False
    )
    assert list(table.columns) == list(audio.TABLE_COLUMNS)
    assert table["status"].tolist() == ["non_finite", "non_finite", "ok", "ok", "ok"]
    flags = table["warnings"].map(warning_flags).tolist()
    assert flags == [[], [], ["clipping"], ["extension_mismatch"], []]
    assert set(table["status"]) <= set(audio.STATUSES)


def test_audio_checks_report_non_finite_and_warnings():
    from harness.checks.data import audio as audio_checks

    status = pd.DataFrame(
        {
            "status": ["ok", "non_finite", "ok", "ok", "corrupt"],
            "duration": [4.0, 4.0, 4.0, 4.0, 0.0],
            "error": ["", "non-finite samples: 3 NaN", "", "", "LibsndfileError"],
            "warnings": ["", "", "clipping (1.00% of samples)", "dc_offset (mean +0.2)", "x"],
            "path": ["p"] * 5,
        },
        index=pd.Index([1, 2, 3, 4, 5], name="key"),
    )
    decoded = audio_checks.decode_status(status=status)
    assert decoded.verdict == "FAIL" and "1 non_finite" in decoded.finding
    assert "non_finite: 1 (2)" in decoded.finding and "NaN or inf" in decoded.action
    warned = audio_checks.clip_warnings(status=status)
    assert warned.verdict == "WARN" and warned.evidence.index.tolist() == [3, 4]
    assert "clipping: 1 (3)" in warned.finding and "dc_offset: 1 (4)" in warned.finding
    assert "DC offset" in warned.action and "listen to them" in warned.action
    assert audio_checks.clip_warnings(status=status.iloc[:2]).verdict == "PASS"
    assert audio_checks.clip_warnings(status=status.drop(columns="warnings")).verdict == "SKIP"


# -- every later command keeps working on a copy of the synthetic set -------------------------


def _plant(root: Path, truth: pd.DataFrame) -> tuple[int, int, int]:
    """NaN and +inf float WAVs, and a clipped WAV, written under three clean clips' .mp3 names."""
    files = sorted((root / "fma_small").glob("*/*.mp3"))
    clean = [p for p in files if int(p.stem) not in truth.index][:3]
    for path, y in zip(
        clean,
        (
            with_bad_samples(np.nan, seconds=4.0),
            with_bad_samples(np.inf, seconds=4.0),
            np.clip(tone(4.0, amp=2.0), -1.0, 1.0),
        ),
        strict=True,
    ):
        write_float_wav(path, y)
    return tuple(int(p.stem) for p in clean)


@pytest.mark.slow
def test_bad_clips_never_poison_later_commands(synth_root, synth_decode_config, tmp_path):
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.features import load_feature_table

    truth = pd.read_csv(synth_root / "synthetic_truth.csv", index_col="track_id")
    root, cache = tmp_path / "fma", tmp_path / "cache"
    shutil.copytree(synth_root, root)
    nan_id, inf_id, clipped_id = _plant(root, truth)
    args = ["--root", str(root), "--cache-dir", str(cache)]
    runner = CliRunner()
    for n_computed in ("70 computed", " 0 computed"):  # 64 clips + 6 challenge clips
        result = runner.invoke(app, ["features", *args, "--n-jobs", "1"])
        assert result.exit_code == 0, result.output
        assert n_computed in result.output and "non_finite" in result.output
    checked = runner.invoke(
        app, ["check", *args, "--n-jobs", "1", "--out", str(tmp_path / "checks")]
    )
    assert checked.exit_code == 0, checked.output
    checks = json.loads((tmp_path / "checks" / "checks.json").read_text())
    results = {(r["family"], r["name"]): r for r in checks}
    decode_check = results[("audio", "decode_status")]
    assert "2 non_finite" in decode_check["finding"]
    warned = results[("audio", "clip_warnings")]
    assert warned["verdict"] == "WARN" and str(clipped_id) in warned["finding"]
    assert "clipping" in warned["finding"] and "extension_mismatch" in warned["finding"]

    from harness.commands.features import build_clips
    from harness.features import extract
    from harness.features.config import logmel_for_clips

    clips = build_clips(root, subset="small", resplit=False, seed=0, test_dir=None)
    logmel = logmel_for_clips(synth_decode_config.min_duration)  # as the commands above
    status = extract(clips, cache_dir=cache, n_jobs=1, decode=synth_decode_config, logmel=logmel)
    assert status.attrs["n_computed"] == 0
    assert status.loc[[nan_id, inf_id], "status"].tolist() == ["non_finite", "non_finite"]
    assert status.at[clipped_id, "status"] == "ok"
    assert warning_flags(status.at[clipped_id, "warnings"]) == ["clipping", "extension_mismatch"]
    planted = truth[truth["fault"].isin(["empty", "short", "silent", "corrupt"])]["fault"]
    assert status["status"].reindex(planted.index).tolist() == planted.tolist()
    usable = status.index[status["status"].isin(["ok", "short"])]
    table = load_feature_table(cache, keys=usable)
    assert np.isfinite(table.to_numpy()).all()
