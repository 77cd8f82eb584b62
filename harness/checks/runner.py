"""Run the ``"data"`` stage of the check registry (audio, duplicates, leakage, labels,
mislabels, features, then users' data checks; see :mod:`harness.checks.registry`).

Two entry points:

- :func:`data_checks` takes plain inputs (tracks, splits, decode status table, file hashes,
  fingerprints, feature table) and returns the list of :class:`CheckResult`; every input but
  ``tracks``, ``splits`` and ``status`` is optional and its checks are skipped without it.
- :func:`run_data_checks` gathers those inputs from a prepared dataset and its feature cache
  (what ``fma-harness run`` and ``fma-harness check`` have at hand) and calls it.

No model is trained here except the mislabel detector's cross-validated logistic regression
(every MFCC-140 statistic plus a rhythm descriptor of the log-mel spectrogram, see
:mod:`harness.checks.data.mislabels`). Fingerprints and rhythm descriptors are computed from the
cached log-mel spectrograms, or by decoding the clips when the run cached none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from harness import features as feats
from harness.checks.base import CheckResult
from harness.checks.data import duplicates
from harness.checks.data.rhythm import rhythm_descriptor
from harness.checks.registry import DATA, DataInputs, run_checks
from harness.data.audio import DecodeConfig
from harness.data.audio import decode as decode_clip
from harness.data.fingerprints import logmel_envelope, matching_pairs
from harness.data.fma import load_genres
from harness.errors import DataError
from harness.pretrained.tables import representation_table


def data_checks(
    *,
    tracks: pd.DataFrame,
    splits: pd.Series,
    status: pd.DataFrame,
    groups: pd.Series | None = None,
    hashes: pd.Series | None = None,
    prints: pd.DataFrame | None = None,
    feature_table: pd.DataFrame | None = None,
    rhythm: pd.DataFrame | None = None,
    genres: pd.DataFrame | None = None,
    target_sr: int = 22050,
    seed: int = 0,
    shifted: pd.DataFrame | None = None,
    pretrained: pd.DataFrame | None = None,
) -> list[CheckResult]:
    """Every registered ``"data"`` check on plain inputs, in registry order.

    Parameters
    ----------
    tracks : pd.DataFrame
        tracks.csv rows of the subset (index track_id, 2-level columns).
    splits : pd.Series
        track_id -> training / validation / test.
    status : pd.DataFrame
        Decode status table, index key (track_id, or file_id for challenge clips).
    groups : pd.Series, optional
        key -> group (split name or ``challenge``) for every key of ``status``; defaults to
        ``splits``.
    hashes : pd.Series, optional
        key -> SHA-1 of the file (:func:`harness.checks.data.duplicates.file_hashes`).
    prints : pd.DataFrame, optional
        key -> audio fingerprint (from :func:`clip_descriptors`).
    feature_table : pd.DataFrame, optional
        MFCC-140 table indexed by track_id.
    rhythm : pd.DataFrame, optional
        Rhythm descriptors (:func:`harness.checks.data.rhythm.rhythm_descriptor`) by track_id,
        added to the mislabel detector's inputs.
    genres : pd.DataFrame, optional
        The dataset's genre tree (its genres.csv); None skips the hierarchy check.
    target_sr : int
        Sample rate the clips are decoded at.
    seed : int
        Seed of the mislabel detector's folds.
    shifted : pd.DataFrame, optional
        Shifted-excerpt pairs (:func:`harness.data.fingerprints.matching_pairs`).
    pretrained : pd.DataFrame, optional
        Pretrained embeddings by track_id (:func:`detector_embeddings`): the mislabel
        detector's inputs instead of MFCC + rhythm.
    """
    inputs = DataInputs(
        tracks=tracks,
        splits=splits,
        status=status,
        groups=groups,
        hashes=hashes,
        prints=prints,
        feature_table=feature_table,
        rhythm=rhythm,
        genres=genres,
        target_sr=target_sr,
        seed=seed,
        shifted=shifted,
        pretrained=pretrained,
    )
    return run_checks(DATA, inputs)


def clip_descriptors(
    S_by_key: Iterable[tuple[Any, np.ndarray]],
    *,
    frame_rate: float,
    envelopes: dict[Any, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Audio fingerprints and rhythm descriptors of log-mel spectrograms.

    Parameters
    ----------
    S_by_key : iterable of (key, np.ndarray of shape (n_mels, n_frames))
        Log-mel spectrograms in dB.
    frame_rate : float
        Frames per second.
    envelopes : dict, optional
        Filled with key -> :func:`harness.data.fingerprints.logmel_envelope` (the shift-tolerant
        fingerprint) when given.

    Returns
    -------
    prints : pd.DataFrame
        key -> :func:`harness.checks.data.duplicates.fingerprint`.
    rhythm : pd.DataFrame
        key -> :func:`harness.checks.data.rhythm.rhythm_descriptor`.
    """
    keys, prints, rhythm = [], [], []
    for key, S in S_by_key:
        S = np.asarray(S, dtype=np.float32)
        if not np.isfinite(S).all():
            continue
        keys.append(key)
        prints.append(duplicates.fingerprint(S, frame_rate=frame_rate))
        rhythm.append(rhythm_descriptor(S))
        if envelopes is not None:
            envelopes[key] = logmel_envelope(S)
    table = pd.DataFrame(np.stack(rhythm) if rhythm else None, index=pd.Index(keys, name="key"))
    return duplicates.stack_fingerprints(keys, prints), table


def cached_logmels(
    cache_dir: Any, *, keys_by_group: dict[str, pd.Index], logmel: Any, decode: Any = None
) -> Iterator[tuple[Any, np.ndarray]]:
    """(key, log-mel) pairs read from the feature cache (DataError when a group is not cached)."""
    for group, wanted in keys_by_group.items():
        if not len(wanted):
            continue
        store = feats.load_logmel(cache_dir, group=group, logmel=logmel, decode=decode)
        rows = store.index["row"]
        for key in wanted:
            if key in rows.index:
                yield key, store.data[int(rows.at[key])]


def _decoded_logmel(path: str, logmel: Any) -> np.ndarray | None:
    clip = decode_clip(path, config=DecodeConfig(sr=logmel.sr))
    if clip.y is None:
        return None
    return np.asarray(feats.logmel_spectrogram(clip.y, sr=clip.sr, config=logmel)[0], np.float32)


def decoded_logmels(
    paths: dict[Any, str], *, logmel: Any, n_jobs: int = -1
) -> Iterator[tuple[Any, np.ndarray]]:
    """(key, log-mel) pairs computed by decoding each clip (when no log-mel is cached)."""
    keys = list(paths)
    runner = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=4)
    specs = runner(delayed(_decoded_logmel)(str(paths[k]), logmel) for k in keys)
    for key, S in zip(keys, specs, strict=True):
        if S is not None:
            yield key, S


def run_data_checks(
    *, data: Any, features: Any, seed: int = 0, n_jobs: int = -1
) -> list[CheckResult]:
    """Data checks of a prepared dataset with its extracted features.

    Parameters
    ----------
    data : harness.data.prepared.PreparedData
        Tracks, splits, labels and clips (key -> path, group).
    features : harness.run.model_run.FeatureStore
        ``status`` (the extraction status table), ``cache_dir``, ``logmel`` (LogMelConfig) and
        optionally ``decode`` (the DecodeConfig the cache was built with).
    n_jobs : int
        Workers for decoding when no log-mel is cached.
    """
    clips = data.clips
    status = features.status.reindex(clips.index)
    status["status"] = status["status"].fillna("missing")
    # Silent, empty and corrupt clips are reported by the audio checks; two of them being
    # identical (digital silence encodes to the same bytes) is not a duplicate worth a FAIL.
    fingerprintable = clips.index[status["status"].isin(duplicates.FINGERPRINT_STATUSES)]
    hashes = duplicates.file_hashes(clips.loc[fingerprintable, "path"].to_dict())
    keys_by_group = {
        g: fingerprintable[(clips.loc[fingerprintable, "group"] == g).to_numpy()]
        for g in pd.unique(clips["group"])
    }
    decode = getattr(features, "decode", None)
    logmel = features.logmel
    try:
        specs = list(
            cached_logmels(
                features.cache_dir, keys_by_group=keys_by_group, logmel=logmel, decode=decode
            )
        )
    except DataError:  # the run extracted no log-mel (baselines only): decode the clips
        paths = clips.loc[fingerprintable, "path"].to_dict()
        specs = decoded_logmels(paths, logmel=logmel, n_jobs=n_jobs)
    frame_rate = logmel.sr / logmel.hop_length
    envelopes: dict[Any, np.ndarray] = {}
    prints, rhythm = clip_descriptors(specs, frame_rate=frame_rate, envelopes=envelopes)
    shifted = matching_pairs(envelopes, frame_rate=frame_rate)
    track_keys = [k for k in clips.index if k in data.splits.index]
    feature_table = feats.load_feature_table(
        features.cache_dir, keys=track_keys, feature_set="mfcc", decode=decode
    )
    return data_checks(
        tracks=data.tracks,
        splits=data.splits,
        status=status,
        groups=clips["group"],
        hashes=hashes,
        prints=prints,
        feature_table=feature_table,
        rhythm=rhythm,
        genres=dataset_genres(data.layout.genres_csv),
        target_sr=int(getattr(features.logmel, "sr", 22050)),
        seed=seed,
        shifted=shifted,
        pretrained=detector_embeddings(features, track_keys),
    )


#: The pretrained representation the mislabel detector reads when the run embedded its clips.
DETECTOR_EMBEDDING = ("musicnn-msd", "penultimate")


def detector_embeddings(features: Any, keys: list) -> pd.DataFrame | None:
    """:data:`DETECTOR_EMBEDDING` of the tracks ``keys`` (every group the run embedded), or
    None when the run computed no such embeddings."""
    source, representation = DETECTOR_EMBEDDING
    groups = (getattr(features, "pretrained", None) or {}).get(source)
    if not groups:
        return None
    tables = []
    for embeddings in groups.values():
        present = pd.Index([k for k in keys if k in embeddings.index.index])
        if len(present):
            tables.append(representation_table(embeddings, present, representation))
    return pd.concat(tables) if tables else None


def dataset_genres(genres_csv: Path) -> pd.DataFrame | None:
    """The dataset's own genre tree (its ``genres.csv``), or None when it ships none: the
    checks that need the tree then say SKIP, never judge the data by another tree."""
    return load_genres(genres_csv) if Path(genres_csv).exists() else None
