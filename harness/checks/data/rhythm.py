"""A tempo-robust rhythm descriptor of a log-mel spectrogram, for the checks' own classifiers.

MFCC frame statistics see which sounds occur, not in which order: two genres that share their
sounds but not their drum pattern or metre look alike to them. The descriptor below keeps the
order (auto- and cross-correlations of band onset envelopes), so the mislabel detector can tell
such genres apart.
"""

from __future__ import annotations

import numpy as np

RHYTHM_BANDS = 4
RHYTHM_MAX_LAG = 128  # frames: about 3 s at 22,050 Hz / hop 512
RHYTHM_GRID = np.geomspace(2, RHYTHM_MAX_LAG - 1, 40)
RHYTHM_SCALE_COEFFS = 12


def _onset_envelopes(S_db: np.ndarray, n_bands: int) -> np.ndarray:
    bands = np.stack([b.mean(axis=0) for b in np.array_split(S_db, n_bands, axis=0)])
    env = np.maximum(np.diff(bands, axis=1), 0.0)
    return env - env.mean(axis=1, keepdims=True)


def rhythm_descriptor(S_db: np.ndarray) -> np.ndarray:
    """Tempo-robust rhythm features of a log-mel spectrogram.

    Onset envelopes of ``RHYTHM_BANDS`` mel bands (half-wave rectified frame differences) are
    auto- and cross-correlated (both directions, so which band comes first is kept) up to
    ``RHYTHM_MAX_LAG`` frames. Each curve is sampled on log-spaced lags, where a tempo change is a
    shift, and kept both as is and as the magnitude of its Fourier transform along the log-lag
    axis (shift-, i.e. tempo-invariant: a discrete scale transform).

    Parameters
    ----------
    S_db : np.ndarray, shape (n_mels, n_frames)
        Log-mel spectrogram in dB (frames 512 samples apart at 22,050 Hz).

    Returns
    -------
    np.ndarray, shape (n_curves * (40 + 12),), float32
        With 4 bands: 16 curves (4 auto, 12 cross), 832 values.
    """
    env = _onset_envelopes(np.asarray(S_db, dtype=np.float32), RHYTHM_BANDS)
    n = env.shape[1]
    spectrum = np.fft.rfft(env, n=2 * n, axis=1)
    energy = np.sum(env**2, axis=1) + 1e-9
    lags = np.arange(RHYTHM_MAX_LAG + 1)
    curves = []
    for i in range(RHYTHM_BANDS):
        for j in range(i, RHYTHM_BANDS):
            cc = np.fft.irfft(spectrum[i] * np.conj(spectrum[j]), n=2 * n)
            cc = cc / np.sqrt(energy[i] * energy[j])
            forward = cc[: RHYTHM_MAX_LAG + 1]
            curves.append(np.interp(RHYTHM_GRID, lags, forward))
            if i != j:
                backward = np.concatenate([cc[:1], cc[::-1][:RHYTHM_MAX_LAG]])
                curves.append(np.interp(RHYTHM_GRID, lags, backward))
    log_lag = np.stack(curves)
    scale = np.abs(np.fft.rfft(log_lag, axis=1))[:, :RHYTHM_SCALE_COEFFS]
    return np.concatenate([log_lag.ravel(), scale.ravel()]).astype(np.float32)
