"""Audio changes for the robustness evaluation: pure functions on one mono clip.

Each change takes a mono float32 signal ``y`` of shape (n_samples,) at ``sr`` Hz and returns the
changed float32 signal (a new array; ``y`` is never modified). :data:`CHANGES` names them with
stable short names, the names of the rows of ``robustness.csv`` and of the cache files:

=============  ==============================================================================
``pitch+2``    ``librosa.effects.pitch_shift`` by +2 semitones (same length)
``pitch-2``    the same, -2 semitones
``stretch0.9`` ``librosa.effects.time_stretch`` at rate 0.9 (slower: length / 0.9)
``stretch1.1`` rate 1.1 (faster: length / 1.1)
``noise20dB``  white Gaussian noise at 20 dB SNR relative to the clip's own RMS (seeded)
``mp3_64k``    MP3 encode at a constant 64 kbps and decode, in memory (soundfile / LAME)
``gain-12dB``  amplitude times 10 ** (-12 / 20)
=============  ==============================================================================

:data:`MILD_CHANGES` are those after which a listener hears the same recording (quieter, a
little hiss, a low bitrate); a genre model should barely notice them. Pitch and tempo changes
move the features a model reads and may move a genre's cues with them.

The MP3 bitrate: soundfile 0.14 passes ``compression_level`` (0 to 1) and ``bitrate_mode`` to
libsndfile, which in ``CONSTANT`` mode sets LAME's bitrate to ``hi - level * (hi - lo)`` kbps
(truncated), where [lo, hi] is the MPEG version's range: [32, 320] from 32 kHz, [8, 160] from
16 kHz, [8, 64] below. :func:`mp3_compression_level` inverts that, so 64 kbps CBR is reached at
every rate MP3 supports (0.887 at 44.1 kHz, 0.628 at 22.05 kHz, 0 at 11.025 kHz). A rate MP3
does not support (e.g. 37.8 kHz) makes the encoder raise: that clip fails for ``mp3_64k`` only.
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable, Hashable

import numpy as np

from harness.errors import ParameterError

#: Bump when a change's output changes for the same input (the robustness cache key holds it).
PERTURB_VERSION = 1
#: Base of the per-clip noise seeds (:func:`clip_seed`).
NOISE_SEED = 20_240_601
#: (lowest rate in Hz, lo kbps, hi kbps) of MPEG-1, MPEG-2 and MPEG-2.5 layer III in libsndfile.
MP3_BITRATE_RANGES = ((32_000, 32, 320), (16_000, 8, 160), (0, 8, 64))

Change = Callable[..., np.ndarray]  # change(y, sr, *, seed) -> changed y


def _float32(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"expected a mono signal of shape (n_samples,), got shape {y.shape}")
    return y


def pitch_shift(y: np.ndarray, sr: int, *, n_steps: float) -> np.ndarray:
    """Shift the pitch by ``n_steps`` semitones, keeping the length (``librosa.effects``)."""
    import librosa

    shifted = librosa.effects.pitch_shift(_float32(y), sr=sr, n_steps=n_steps)
    return shifted.astype(np.float32, copy=False)


def time_stretch(y: np.ndarray, sr: int, *, rate: float) -> np.ndarray:
    """Play ``rate`` times faster at the same pitch: shape (round(n_samples / rate),)."""
    import librosa

    return librosa.effects.time_stretch(_float32(y), rate=rate).astype(np.float32, copy=False)


def rms(y: np.ndarray) -> float:
    """Root mean square of ``y`` (full scale = 1), computed in float64."""
    y = np.asarray(y)
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def white_noise(y: np.ndarray, sr: int, *, snr_db: float, seed: int) -> np.ndarray:
    """Add white Gaussian noise whose RMS is ``snr_db`` dB below the clip's RMS.

    The noise drawn from ``np.random.default_rng(seed)`` is rescaled to exactly that RMS, so the
    SNR is ``snr_db`` to float32 rounding. A clip of zeros stays zeros.
    """
    y = _float32(y)
    noise = np.random.default_rng(seed).standard_normal(y.shape[0])
    level = rms(noise)
    if level > 0:
        noise *= rms(y) * 10.0 ** (-snr_db / 20.0) / level
    return (y + noise).astype(np.float32)


def gain(y: np.ndarray, sr: int, *, db: float) -> np.ndarray:
    """Scale the amplitude by ``db`` decibels (``10 ** (db / 20)``)."""
    return _float32(y) * np.float32(10.0 ** (db / 20.0))


def mp3_compression_level(sr: int, kbps: int) -> float:
    """soundfile's ``compression_level`` that makes libsndfile's LAME encode at ``kbps`` CBR.

    Aims at ``kbps + 0.5`` before libsndfile truncates to whole kbps, so float rounding can never
    land one below.

    Raises
    ------
    ParameterError
        ``kbps`` is outside the range of the MPEG version used at ``sr``.
    """
    lowest, lo, hi = next(r for r in MP3_BITRATE_RANGES if sr >= r[0])
    if not lo <= kbps <= hi:
        raise ParameterError(
            f"mp3 at {kbps} kbps: a {sr} Hz clip is encoded as MPEG with {lo} to {hi} kbps; "
            "choose a bitrate in that range"
        )
    return min(max((hi - kbps - 0.5) / (hi - lo), 0.0), 1.0)


def mp3_encode(y: np.ndarray, sr: int, *, kbps: int) -> bytes:
    """The bytes of ``y`` encoded as a constant-bitrate MP3 (``soundfile.write``, in memory)."""
    import soundfile as sf

    buffer = io.BytesIO()
    level = mp3_compression_level(sr, kbps)
    sf.write(
        buffer, _float32(y), sr, format="MP3", compression_level=level, bitrate_mode="CONSTANT"
    )
    return buffer.getvalue()


def mp3_roundtrip(y: np.ndarray, sr: int, *, kbps: int) -> np.ndarray:
    """Encode to MP3 at ``kbps`` CBR and decode again (float32, the input's length: LAME's info
    frame tells the decoder the encoder delay and padding to trim)."""
    import soundfile as sf

    decoded, _ = sf.read(io.BytesIO(mp3_encode(y, sr, kbps=kbps)), dtype="float32")
    return decoded if decoded.ndim == 1 else decoded.mean(axis=1, dtype=np.float32)


def _seedless(function: Callable[..., np.ndarray], **params) -> Change:
    """A change that takes (and ignores) ``seed``, like the random ones."""
    bound = functools.partial(function, **params)

    def change(y: np.ndarray, sr: int, *, seed: int = 0) -> np.ndarray:
        return bound(y, sr)

    return change


CHANGES: dict[str, Change] = {
    "pitch+2": _seedless(pitch_shift, n_steps=2.0),
    "pitch-2": _seedless(pitch_shift, n_steps=-2.0),
    "stretch0.9": _seedless(time_stretch, rate=0.9),
    "stretch1.1": _seedless(time_stretch, rate=1.1),
    "noise20dB": functools.partial(white_noise, snr_db=20.0),
    "mp3_64k": _seedless(mp3_roundtrip, kbps=64),
    "gain-12dB": _seedless(gain, db=-12.0),
}
MILD_CHANGES: tuple[str, ...] = ("noise20dB", "mp3_64k", "gain-12dB")


def clip_seed(key: Hashable) -> int:
    """The noise seed of one clip: stable across runs, processes and run seeds (CRC-32 of the
    clip key), so every run and every model meets the same noisy clip."""
    return (NOISE_SEED + zlib.crc32(str(key).encode("utf-8"))) % 2**32


def apply_change(name: str, y: np.ndarray, sr: int, *, seed: int = 0) -> np.ndarray:
    """``CHANGES[name](y, sr, seed=seed)``; an unknown name fails naming the known ones."""
    if name not in CHANGES:
        raise ParameterError(f"unknown audio change {name!r}; expected one of {', '.join(CHANGES)}")
    return CHANGES[name](y, sr, seed=seed)
