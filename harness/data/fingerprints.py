"""Audio fingerprints that survive a shift and a re-encode: which clips are the same excerpt.

A dataset without artist information (a folder per label, a manifest without ``artist``) is
split grouped by audio instead, so that repeated and near-identical excerpts never straddle two
splits. "Near-identical" means the same excerpt re-encoded, re-gained, or cut up to
:data:`MAX_SHIFT` seconds later or earlier.

The fingerprint of a clip is its band envelope: the log energy of :data:`N_BANDS` bands
(log-spaced from 60 Hz to 8 kHz) at :data:`FRAME_RATE` frames per second, each band minus its
mean over the clip (gain and a static EQ cancel). Two clips match when, at some lag within
``MAX_SHIFT``, the cosine similarity of their overlapping envelopes (each band centred on the
overlap) reaches
:data:`MIN_SIMILARITY` over at least :data:`MIN_OVERLAP` of the shorter clip. Only the
``n_neighbors`` nearest clips by a shift-tolerant summary (each band's mean and spread) are
compared lag by lag, so the cost grows as n_clips x n_neighbors, not n_clips squared.

Nothing here reads labels; :func:`audio_groups` joins matching clips (transitively) into groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

FRAME_RATE = 20.0  # envelope frames per second
N_BANDS = 16
F_MIN, F_MAX = 60.0, 8000.0
MAX_SHIFT = 2.0  # seconds
MIN_SIMILARITY = 0.9
MIN_OVERLAP = 0.5  # of the shorter clip
MIN_SECONDS = 1.0  # a shorter overlap never matches
N_NEIGHBORS = 10
_FLOOR = 1e-10
DYNAMIC_RANGE = 60 * np.log(10) / 10  # 60 dB, in natural-log units of power


def band_envelope(y: np.ndarray, *, sr: int) -> np.ndarray:
    """The fingerprint of one mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono samples.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray, shape (N_BANDS, n_frames), float32
        Log band energies (natural log) minus each band's mean over the clip, silent frames
        at either end left out (:func:`_centred`); zero frames for a clip shorter than one
        frame.
    """
    hop = max(1, int(round(sr / FRAME_RATE)))
    n_frames = len(y) // hop
    if n_frames < 1:
        return np.zeros((N_BANDS, 0), dtype=np.float32)
    frames = np.asarray(y[: n_frames * hop], dtype=np.float32).reshape(n_frames, hop)
    power = np.abs(np.fft.rfft(frames * np.hanning(hop).astype(np.float32), axis=1)) ** 2
    freqs = np.fft.rfftfreq(hop, d=1.0 / sr)
    edges = np.geomspace(F_MIN, min(F_MAX, sr / 2), N_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs) - 1, -1, N_BANDS)
    energy = np.zeros((n_frames, N_BANDS), dtype=np.float64)
    for b in range(N_BANDS):
        cols = band == b
        if cols.any():
            energy[:, b] = power[:, cols].sum(axis=1)
    return _centred(np.log(energy + _FLOOR).T)


def logmel_envelope(S_db: np.ndarray) -> np.ndarray:
    """The fingerprint of a log-mel spectrogram (dB): its mel bands pooled into ``N_BANDS``,
    in the natural-log units of :func:`band_envelope`, at the spectrogram's own frame rate
    (pass it to :func:`matching_pairs`).

    Parameters
    ----------
    S_db : np.ndarray, shape (n_mels, n_frames)

    Returns
    -------
    np.ndarray, shape (N_BANDS, n_frames), float32
        As :func:`band_envelope`: silent frames at either end left out.
    """
    S = np.asarray(S_db, dtype=np.float64)
    if S.shape[1] == 0:
        return np.zeros((N_BANDS, 0), dtype=np.float32)
    power = np.stack([(10.0 ** (b / 10.0)).mean(axis=0) for b in np.array_split(S, N_BANDS)])
    return _centred(np.log(power + _FLOOR))


def _centred(log: np.ndarray) -> np.ndarray:
    """Log band energies (N_BANDS, n_frames) floored :data:`DYNAMIC_RANGE` below their peak,
    without the silent frames at either end, each band minus its mean: float32.

    Silence and padding all sit at the one floor. At the clip's edges they are dropped: an
    MP3 without a LAME header (no gapless trimming) decodes with about 50 ms of encoder delay
    before the audio and padding after it, and those floor frames, far below every band's
    mean, made unrelated clips alike (cosine 0.91 between two pairs of 4 s clips of the tests'
    tiny set).
    """
    floor = log.max() - DYNAMIC_RANGE
    log = np.maximum(log, floor)
    sounding = np.flatnonzero((log > floor).any(axis=0))
    if len(sounding):
        log = log[:, sounding[0] : sounding[-1] + 1]
    return (log - log.mean(axis=1, keepdims=True)).astype(np.float32)


def file_envelope(path: str | Path) -> np.ndarray | None:
    """:func:`band_envelope` of an audio file (mono mix, native rate); None when it cannot be
    decoded or holds no audio."""
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # an undecodable clip has no fingerprint; the audio checks report it
        return None
    if data.size == 0 or not np.isfinite(data).all():
        return None
    return band_envelope(data.mean(axis=1), sr=int(sr))


def summary(envelope: np.ndarray) -> np.ndarray:
    """A shift-tolerant summary of an envelope: each band's spread and the band profile of
    its loudest frames, shape (2 * N_BANDS,)."""
    if envelope.shape[1] == 0:
        return np.zeros(2 * N_BANDS, dtype=np.float32)
    spread = envelope.std(axis=1)
    loud = envelope[:, envelope.sum(axis=0) >= np.median(envelope.sum(axis=0))].mean(axis=1)
    return np.concatenate([spread, loud]).astype(np.float32)


def best_alignment(
    a: np.ndarray, b: np.ndarray, *, max_lag: int, min_frames: int = 20
) -> tuple[float, int]:
    """Highest cosine similarity of two envelopes over lags ``-max_lag..max_lag`` (frames),
    each band centred on the overlap (a padded or trimmed copy's offset cancels).

    Returns
    -------
    similarity : float
        In [-1, 1]; -1 when no lag overlaps on ``MIN_OVERLAP`` of the shorter clip (and at
        least ``min_frames``, :data:`MIN_SECONDS` at :data:`FRAME_RATE`).
    lag : int
        Frames ``b`` starts after ``a`` at the best alignment.
    """
    na, nb = a.shape[1], b.shape[1]
    need = max(min_frames, int(np.ceil(MIN_OVERLAP * min(na, nb))))
    lags = np.arange(-max_lag, max_lag + 1)
    start_a, start_b = np.maximum(0, lags), np.maximum(0, -lags)
    n = np.minimum(na - start_a, nb - start_b)
    ok = n >= need
    if not ok.any():
        return -1.0, 0
    lags, start_a, start_b, n = lags[ok], start_a[ok], start_b[ok], n[ok]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(na + nb)))
    cross = np.fft.irfft(np.fft.rfft(a64, size) * np.conj(np.fft.rfft(b64, size)), size)
    sxz = cross[:, lags % size]  # sum over t of a[t + lag] * b[t]
    # window sums of x, x^2 (over a) and z, z^2 (over b), per band and lag
    ca = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a64, axis=1)], axis=1)
    ca2 = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a64**2, axis=1)], axis=1)
    cb = np.concatenate([np.zeros((b.shape[0], 1)), np.cumsum(b64, axis=1)], axis=1)
    cb2 = np.concatenate([np.zeros((b.shape[0], 1)), np.cumsum(b64**2, axis=1)], axis=1)
    sx = ca[:, start_a + n] - ca[:, start_a]
    sxx = ca2[:, start_a + n] - ca2[:, start_a]
    sz = cb[:, start_b + n] - cb[:, start_b]
    szz = cb2[:, start_b + n] - cb2[:, start_b]
    num = (sxz - sx * sz / n).sum(axis=0)
    var_x = np.maximum((sxx - sx**2 / n).sum(axis=0), 0.0)  # rounding can dip below 0
    den = np.sqrt(var_x * np.maximum((szz - sz**2 / n).sum(axis=0), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(den > 1e-9, num / den, -1.0)
    best = int(np.argmax(sim))
    return float(sim[best]), int(lags[best])


def matching_pairs(
    envelopes: Mapping[Any, np.ndarray],
    *,
    max_shift: float = MAX_SHIFT,
    min_similarity: float = MIN_SIMILARITY,
    n_neighbors: int = N_NEIGHBORS,
    frame_rate: float = FRAME_RATE,
) -> pd.DataFrame:
    """Pairs of clips holding the same excerpt (shifted by up to ``max_shift`` s, re-encoded).

    Parameters
    ----------
    envelopes : Mapping
        key -> :func:`band_envelope` (clips without one are left out by the caller).
    frame_rate : float
        Frames per second of the envelopes (:data:`FRAME_RATE` for :func:`band_envelope`).

    Returns
    -------
    pd.DataFrame
        Columns key_a, key_b, similarity, shift (seconds ``key_b`` starts after ``key_a``).
    """
    min_frames = int(np.ceil(MIN_SECONDS * frame_rate))
    keys = [k for k, e in envelopes.items() if e.shape[1] >= min_frames]
    columns = ["key_a", "key_b", "similarity", "shift"]
    if len(keys) < 2:
        return pd.DataFrame(columns=columns)
    S = np.stack([summary(envelopes[k]) for k in keys]).astype(np.float64)
    S = (S - S.mean(axis=0)) / (S.std(axis=0) + 1e-6)
    sq = (S * S).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * S @ S.T
    np.fill_diagonal(dist, np.inf)
    k = min(n_neighbors, len(keys) - 1)
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
    max_lag = int(round(max_shift * frame_rate))
    rows, seen = [], set()
    for i in range(len(keys)):
        for j in nearest[i]:
            pair = (min(i, int(j)), max(i, int(j)))
            if pair in seen:
                continue
            seen.add(pair)
            a, b = pair
            sim, lag = best_alignment(
                envelopes[keys[a]], envelopes[keys[b]], max_lag=max_lag, min_frames=min_frames
            )
            if sim >= min_similarity:
                rows.append(
                    {
                        "key_a": keys[a],
                        "key_b": keys[b],
                        "similarity": round(sim, 4),
                        "shift": round(lag / frame_rate, 2),
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def connected_groups(keys: list[Any], pairs: pd.DataFrame) -> pd.Series:
    """key -> group label: clips joined by ``pairs`` (key_a, key_b), transitively, share the
    label of their first key; every other clip is its own group."""
    parent = {k: k for k in keys}

    def find(k: Any) -> Any:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in zip(pairs["key_a"], pairs["key_b"], strict=True):
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra
    order = {k: i for i, k in enumerate(keys)}
    root_label: dict[Any, str] = {}
    labels = []
    for k in keys:
        r = find(k)
        root_label.setdefault(r, f"audio:{order[r]}")
        labels.append(root_label[r])
    return pd.Series(labels, index=pd.Index(keys, name="key"), name="group", dtype=object)


def audio_groups(paths: Mapping[Any, str | Path]) -> tuple[pd.Series, pd.DataFrame]:
    """Group clips by audio: identical and near-identical excerpts share a group.

    Parameters
    ----------
    paths : Mapping
        key -> audio file.

    Returns
    -------
    groups : pd.Series
        key -> group label (``audio:<n>``), for every key (an undecodable clip is its own group).
    pairs : pd.DataFrame
        The matching pairs found (:func:`matching_pairs`).
    """
    keys = list(paths)
    envelopes = {}
    for key in keys:
        env = file_envelope(paths[key])
        if env is not None:
            envelopes[key] = env
    pairs = matching_pairs(envelopes)
    return connected_groups(keys, pairs), pairs
