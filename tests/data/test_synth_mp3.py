"""The synthetic set's MP3 encoder: bitrates, determinism, and files soundfile decodes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from harness.data.synth.mp3 import DEFAULT_KBPS, MAX_KBPS, MIN_KBPS, bitrate_for, encode_mp3


def tone(sr: int, seconds: float, channels: int) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return y if channels == 1 else np.stack([y, -y], axis=1)


def test_compression_levels_map_to_bitrates():
    assert bitrate_for(None) == DEFAULT_KBPS
    assert bitrate_for(0.0) == MAX_KBPS
    assert MIN_KBPS <= bitrate_for(0.99) < bitrate_for(0.5) < MAX_KBPS


@pytest.mark.parametrize("sr, channels", [(22050, 1), (44100, 2), (16000, 1)])
def test_clips_decode_at_their_rate_and_length(sr, channels):
    y = tone(sr, 2.0, channels)
    data = encode_mp3(y, sr=sr, compression_level=None)
    decoded, decoded_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert decoded_sr == sr and decoded.shape[1] == channels
    # no gapless trimming without a LAME header: the encoder's delay and padding stay
    assert len(y) <= len(decoded) <= len(y) + 3000
    assert encode_mp3(y, sr=sr, compression_level=None) == data  # the same bytes again


def test_a_lower_level_spends_more_bytes():
    y = tone(22050, 2.0, 1)
    best, default = (len(encode_mp3(y, sr=22050, compression_level=c)) for c in (0.0, None))
    assert best > 1.2 * default  # 128 kbps against 96
