"""Features of changed audio: decode each clip once, apply every audio change, extract both
feature kinds, cache per change.

A clip goes through what a clean clip goes through in :mod:`harness.features.worker`, with one
step added: :func:`harness.data.audio.decode` at the native rate with the run's
:class:`~harness.data.audio.DecodeConfig`, then the change
(:data:`harness.features.perturb.CHANGES`), then :func:`clip_features`: MFCC-140
(:func:`~harness.features.mfcc.mfcc_stats` at the native rate, stored as float32) and the
log-mel (:func:`~harness.features.logmel.logmel_spectrogram`: resampled, cropped or zero-padded
to the run's window, stored as float16), each under one BLAS thread. An unchanged clip through
this path gives the cached clean rows.

:func:`extract_changed` plans from the cache (:mod:`harness.features.changed_store`), runs one
task per clip that lacks a change on joblib (:func:`harness.features.parallel.run_tasks`), each
writing its rows to the journal, and folds the journal into one ``<change>.npz`` per change.
A change or feature that raises on a clip is that clip's error for that change; the rest goes
on.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.audio import DecodeConfig, decode
from harness.errors import ParameterError
from harness.features import perturb
from harness.features.cache import fingerprint
from harness.features.changed_store import (
    cached_keys,
    consolidate,
    journal_path,
    row_record,
    save_arrays,
)
from harness.features.config import LogMelConfig, feature_columns, set_dirname, set_spec
from harness.features.logmel import logmel_spectrogram
from harness.features.mfcc import mfcc_stats
from harness.features.parallel import run_tasks
from harness.features.worker import NonFiniteFeatures, single_thread

ROBUSTNESS_DIR = "robustness"
WARM_UP_SECONDS = 2


def robustness_key(logmel: LogMelConfig) -> str:
    """The cache folder name of changed features: ``<mfcc key>+<logmel key>-v<version>``.

    The two feature cache keys cover the recipes, ``logmel`` and the library versions (so a new
    librosa or libsndfile recomputes); the version is :data:`~perturb.PERTURB_VERSION`.
    """
    keys = [set_dirname(set_spec(name, logmel=logmel)) for name in ("mfcc", "logmel")]
    return f"{'+'.join(keys)}-v{perturb.PERTURB_VERSION}"


def clip_features(y: np.ndarray, sr: int, *, logmel: LogMelConfig) -> tuple:
    """MFCC-140 and log-mel of one decoded (or changed) clip, as the feature cache stores them.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``sr`` Hz.

    Returns
    -------
    mfcc : np.ndarray, shape (140,), float32
    spec : np.ndarray, shape logmel.shape, float16 (dB)
    padded : bool
        The clip was shorter than the log-mel window and zero-padded.

    Raises
    ------
    NonFiniteFeatures
        A value is NaN or infinite (the feature cache refuses such a row too).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant frames: NaN skew, refused below
        mfcc = np.asarray(mfcc_stats(y, sr=sr), dtype=np.float32)
        spec, padded = logmel_spectrogram(y, sr=sr, config=logmel)
    spec = np.asarray(spec, dtype=np.float16)
    for name, values in (("mfcc", mfcc), ("logmel", spec)):
        if not np.isfinite(values).all():
            n_bad = int(np.count_nonzero(~np.isfinite(values)))
            raise NonFiniteFeatures(f"{name}: {n_bad} of {values.size} values are NaN or inf")
    return mfcc, spec, bool(padded)


@dataclass(frozen=True)
class ChangedClipTask:
    """One clip to decode and the changes it still lacks (picklable)."""

    key: Hashable
    fingerprint: dict
    changes: tuple[str, ...]
    folder: str
    decode: DecodeConfig
    logmel: LogMelConfig


def process_changed_clip(task: ChangedClipTask) -> dict:
    """Decode once, apply each change, journal its features; return ``{"key", "errors"}``.

    Never raises for a bad clip: a decode that yields no samples, a change or a feature that
    raises is recorded as the error of that (clip, change).
    """
    with single_thread():  # one clip = one core, as in the clean feature pass
        clip = decode(task.fingerprint["path"], config=task.decode)
        errors = {}
        for change in task.changes:
            error, values = "", None
            try:
                if clip.y is None:
                    raise ValueError(f"decode: {clip.status}: {clip.error}")
                seed = perturb.clip_seed(task.key)
                changed = perturb.apply_change(change, clip.y, clip.sr, seed=seed)
                values = clip_features(changed, clip.sr, logmel=task.logmel)
            except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the pass
                error = f"{type(exc).__name__}: {exc}"[:300]
            if values is None:
                values = _failed_values(task.logmel)
            mfcc, spec, padded = values
            record = row_record(
                task.key, task.fingerprint, error=error, mfcc=mfcc, logmel=spec, padded=padded
            )
            save_arrays(journal_path(Path(task.folder), change, task.key), record)
            errors[change] = error
    return {"key": task.key, "errors": errors}


def _failed_values(logmel: LogMelConfig) -> tuple:
    n_mfcc = len(feature_columns("mfcc"))
    return np.full(n_mfcc, np.nan, np.float32), np.zeros(logmel.shape, np.float16), False


def warm_up_changes(logmel: LogMelConfig, changes: Sequence[str]) -> None:
    """Run every change and both features once on 2 s of noise in this process (numba compiles
    here, before any worker starts: see :func:`harness.features.worker.warm_up`)."""
    sr = logmel.sr
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, WARM_UP_SECONDS * sr).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for change in changes:
            clip_features(perturb.apply_change(change, noise, sr), sr, logmel=logmel)


def extract_changed(
    clips: pd.DataFrame,
    *,
    cache_dir: str | Path,
    changes: Sequence[str],
    logmel: LogMelConfig,
    decode: DecodeConfig,
    n_jobs: int = -1,
    scheduler: str | None = None,
    progress: bool | None = None,
) -> dict[str, Path]:
    """Compute (or reuse) the features of every clip under every change.

    Parameters
    ----------
    clips : pd.DataFrame
        Index clip key (int or str); column ``path``.
    cache_dir : str or Path
        The feature cache root; changed features go to ``<cache_dir>/robustness/<key>/``
        (:func:`robustness_key`).
    changes : sequence of str
        Names in :data:`harness.features.perturb.CHANGES`.
    logmel, decode : LogMelConfig, DecodeConfig
        The run's log-mel window and decode settings (mono, native rate).
    n_jobs, scheduler, progress
        As for :func:`harness.features.extract`.

    Returns
    -------
    dict
        change -> path of its ``<change>.npz`` (read it with
        :func:`harness.features.changed_store.load_changed`).
    """
    unknown = [c for c in changes if c not in perturb.CHANGES]
    if unknown:
        raise ParameterError(
            f"unknown audio change {unknown[0]!r}; expected some of {', '.join(perturb.CHANGES)}"
        )
    if clips.empty:
        raise ParameterError("extract_changed: no clips given; pass at least one (key, path)")
    folder = Path(cache_dir).absolute() / ROBUSTNESS_DIR / robustness_key(logmel)
    fingerprints = {key: fingerprint(path) for key, path in clips["path"].items()}
    tasks = plan_tasks(folder, fingerprints, changes, decode=decode, logmel=logmel)
    if tasks and (n_jobs != 1 or scheduler is not None):
        warm_up_changes(logmel, changes)
    run_tasks(process_changed_clip, tasks, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    shapes = {"mfcc": (len(feature_columns("mfcc")),), "logmel": logmel.shape}
    return {c: consolidate(folder, c, fingerprints, shapes=shapes) for c in changes}


def plan_tasks(
    folder: Path,
    fingerprints: dict[Hashable, dict],
    changes: Sequence[str],
    *,
    decode: DecodeConfig,
    logmel: LogMelConfig,
) -> list[ChangedClipTask]:
    """One task per clip that lacks a valid cached row for some change."""
    done = {change: cached_keys(folder, change, fingerprints) for change in changes}
    tasks = []
    for key, fp in fingerprints.items():
        todo = tuple(c for c in changes if key not in done[c])
        if todo:
            tasks.append(ChangedClipTask(key, fp, todo, str(folder), decode, logmel))
    return tasks
