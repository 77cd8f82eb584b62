"""The audio changes of the robustness evaluation: lengths, levels, pitch, MP3 bitrate, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import ParameterError
from harness.features import perturb

SR = 22050


def _music(seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    """A 440 Hz tone with a harmonic and a little noise: float32 (n,)."""
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 880 * t)
    noise = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return (tone + noise).astype(np.float32)


def _db(a: np.ndarray, b: np.ndarray) -> float:
    """Level of ``a`` relative to ``b`` in dB (RMS)."""
    return 20 * np.log10(perturb.rms(a) / perturb.rms(b))


def _peak_hz(y: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spectrum)])


@pytest.mark.parametrize("name", list(perturb.CHANGES))
def test_every_change_returns_float32_mono_and_leaves_its_input(name):
    y = _music()
    before = y.copy()
    out = perturb.apply_change(name, y, SR, seed=1)
    assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
    np.testing.assert_array_equal(y, before)
    assert not np.array_equal(out[: y.size], y[: out.size])  # the signal did change
    expected = y.size / {"stretch0.9": 0.9, "stretch1.1": 1.1}.get(name, 1.0)
    assert abs(out.size - expected) <= 1, (name, out.size, expected)


@pytest.mark.parametrize("name", list(perturb.CHANGES))
def test_every_change_is_deterministic(name):
    y = _music(1.0)
    first = perturb.apply_change(name, y, SR, seed=7)
    np.testing.assert_array_equal(first, perturb.apply_change(name, y, SR, seed=7))


def test_noise_is_20_db_below_the_clip_and_seeded():
    y = _music()
    noisy = perturb.apply_change("noise20dB", y, SR, seed=3)
    snr = _db(y, noisy - y)
    assert abs(snr - 20.0) < 0.5
    assert abs(snr - 20.0) < 1e-3  # rescaled to the exact level, float32 rounding aside
    other = perturb.apply_change("noise20dB", y, SR, seed=4)
    assert not np.array_equal(noisy, other)
    quiet = perturb.apply_change("noise20dB", 0.1 * y, SR, seed=3)
    assert abs(_db(0.1 * y, quiet - 0.1 * y) - 20.0) < 1e-3  # relative to the clip's own RMS


def test_clip_seeds_are_stable_and_distinct():
    assert perturb.clip_seed(2) == perturb.clip_seed(2) == perturb.clip_seed("2")
    assert perturb.clip_seed(2) == 470_456_038  # NOISE_SEED + zlib.crc32(b"2"): pinned
    assert len({perturb.clip_seed(k) for k in range(1000)}) == 1000


def test_gain_is_exactly_minus_12_db():
    y = _music()
    assert _db(perturb.apply_change("gain-12dB", y, SR), y) == pytest.approx(-12.0, abs=1e-4)


@pytest.mark.parametrize(("name", "semitones"), [("pitch+2", 2), ("pitch-2", -2)])
def test_pitch_shift_moves_a_sine_by_two_semitones(name, semitones):
    y = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR)).astype(np.float32)
    shifted = perturb.apply_change(name, y, SR)
    expected = 440 * 2 ** (semitones / 12)  # 493.9 Hz or 392.0 Hz
    assert _peak_hz(shifted) == pytest.approx(expected, rel=0.005)
    assert _peak_hz(y) == pytest.approx(440, rel=0.005)


def _mp3_frame_bitrates(data: bytes) -> list[int]:
    """The bitrate (kbps) in every MPEG audio frame header of ``data``, walking frame by frame."""
    mpeg1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    mpeg2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    position, out = data.find(b"\xff"), []
    while position + 4 <= len(data) and data[position] == 0xFF and data[position + 1] >= 0xE0:
        version = (data[position + 1] >> 3) & 3
        kbps = (mpeg1 if version == 3 else mpeg2)[data[position + 2] >> 4]
        sr = rates[version][(data[position + 2] >> 2) & 3]
        padding = (data[position + 2] >> 1) & 1
        out.append(kbps)
        position += (144 if version == 3 else 72) * kbps * 1000 // sr + padding
    return out


@pytest.mark.parametrize("sr", [44100, 22050, 11025])
def test_mp3_is_constant_64_kbps_at_every_mpeg_version(sr):
    y = _music(4.0, sr)
    frames = _mp3_frame_bitrates(perturb.mp3_encode(y, sr, kbps=64))
    assert len(frames) > 20 and set(frames) == {64}, frames[:5]


def test_mp3_round_trip_keeps_the_length_and_changes_the_signal():
    y = _music(4.0)
    out = perturb.apply_change("mp3_64k", y, SR)
    assert abs(out.size - y.size) <= 0.01 * y.size
    residual = _db(out[: y.size] - y[: out.size], y)
    assert -60 < residual < -3  # audibly the same clip, not the same samples
    assert len(perturb.mp3_encode(y, SR, kbps=128)) > 1.8 * len(perturb.mp3_encode(y, SR, kbps=64))


def test_mp3_bitrate_outside_the_mpeg_range_is_refused():
    with pytest.raises(ParameterError, match="8 to 64 kbps"):
        perturb.mp3_compression_level(11025, 128)


def test_an_unknown_change_or_a_stereo_signal_is_refused():
    with pytest.raises(ParameterError, match="unknown audio change 'reverb'; expected one of"):
        perturb.apply_change("reverb", _music(), SR)
    with pytest.raises(ParameterError, match="mono signal"):
        perturb.apply_change("gain-12dB", np.zeros((2, 100), np.float32), SR)


def test_the_mild_changes_are_registered():
    assert set(perturb.MILD_CHANGES) <= set(perturb.CHANGES)
    assert list(perturb.CHANGES) == [
        "pitch+2",
        "pitch-2",
        "stretch0.9",
        "stretch1.1",
        "noise20dB",
        "mp3_64k",
        "gain-12dB",
    ]
