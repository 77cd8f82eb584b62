"""One clip's job, run by every worker: decode once, compute each missing feature set, journal.

A worker (this process, a loky process or a dask worker) gets a picklable :class:`ClipTask`,
writes each finished feature set to the shared cache's journal (atomic rename) and returns only
a small status dict, so the client never holds feature arrays. BLAS is held to one thread per
clip: one clip is one core's work, and a fixed thread count keeps the summation order, hence
the last bits of every value, the same on every execution path.
"""

from __future__ import annotations

import functools
import multiprocessing
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

import numpy as np

from harness.data.audio import decode
from harness.features.cache import FeatureStore
from harness.features.config import (
    SPECTROGRAM_SETS,
    LogMelConfig,
    feature_columns,
    set_dirname,
    set_logmel,
    set_spec,
)
from harness.features.integrity import FAILED
from harness.features.logmel import logmel_spectrogram
from harness.features.mfcc import all_stats, mfcc_stats, stft_magnitude

#: Statuses re-derived from duration and RMS when the decode thresholds change.
RESTATABLE = ("ok", "short", "silent")
#: Statuses whose features reach a model: any NaN or inf in them turns the clip ``failed``
#: (``silent`` clips keep their NaN skew and kurtosis: no model sees them).
MUST_BE_FINITE = ("ok", "short")


@dataclass(frozen=True)
class SetPlan:
    """What a worker needs to compute and store one feature set (picklable)."""

    name: str
    root: str
    row_shape: tuple[int, ...]
    dtype: str
    logmel: LogMelConfig

    def store(self) -> FeatureStore:
        return FeatureStore(Path(self.root), row_shape=self.row_shape, dtype=self.dtype)


@dataclass(frozen=True)
class ClipTask:
    """One clip to decode and the feature sets it still lacks."""

    key: Hashable
    path: str
    fingerprint: dict
    sets: tuple[SetPlan, ...]
    decode: object  # harness.data.audio.DecodeConfig


def open_store(cache_dir, name: str, *, logmel: LogMelConfig, create: bool) -> SetPlan:
    """The :class:`SetPlan` (and directory) of feature set ``name`` under ``cache_dir``."""
    spec = set_spec(name, logmel=logmel)
    root = Path(cache_dir).absolute() / set_dirname(spec)
    logmel = set_logmel(name, logmel)
    if name in SPECTROGRAM_SETS:
        row_shape, dtype = logmel.shape, "float16"
    else:
        row_shape, dtype = (len(feature_columns(name)),), "float32"
    plan = SetPlan(name, str(root), row_shape, dtype, logmel)
    if create:
        plan.store().create(spec)
    return plan


def _compute(plan: SetPlan, y: np.ndarray, sr: int, shared: dict) -> tuple[np.ndarray, bool]:
    """Values of one feature set for one decoded clip; ``shared`` caches the native STFT."""
    if plan.name in SPECTROGRAM_SETS:
        return logmel_spectrogram(y, sr=sr, config=plan.logmel)
    if "all" in shared:  # the 518 set contains the 140 MFCC columns
        return shared["all"][_mfcc_positions()], False
    if "magnitude" not in shared:
        shared["magnitude"] = stft_magnitude(y)
    if plan.name == "all":
        shared["all"] = all_stats(y, sr=sr, magnitude=shared["magnitude"])
        return shared["all"], False
    return mfcc_stats(y, sr=sr, magnitude=shared["magnitude"]), False


def warm_up(plans: tuple[SetPlan, ...] | list[SetPlan]) -> None:
    """Compute each plan's features once on 2 s of noise in this process, storing nothing.

    librosa compiles its numba kernels on first use and caches them beside its sources. When
    several fresh processes compile the same ``guvectorize`` kernel at once, numba can pair
    cache files written by different processes, and the next load segfaults (numba issue
    #10128, seen here as a crash in ``librosa.piptrack`` on a fresh install). Compiling here,
    before any worker starts, leaves the workers only cache reads. Remote dask workers have
    their own installs: this protects the workers on this machine only.
    """
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 2 * 22050).astype(np.float32)
    shared: dict = {}
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for plan in sorted(plans, key=lambda p: p.name != "all"):
            _compute(plan, noise, 22050, shared)


def warm_up_in_background(feature_sets: Sequence[str]) -> BaseProcess:
    """Start :func:`warm_up` of ``feature_sets`` (default log-mel settings: numba compiles the
    same kernels for any) in a new process, and return it.

    numba compiles on one core: a run starts this while its worker processes generate the
    synthetic set, and joins it before extracting (on a fresh install here, data and features
    stages 68 s instead of 76 s). A process rather than a thread: the compiler holds the GIL.
    Join it before any other process uses librosa: concurrent first compiles can corrupt
    numba's cache (see :func:`warm_up`). A failure here is not reported; the extraction's own
    :func:`warm_up` then fails the same way, loudly.
    """
    plans = [SetPlan(name, "", (), "float32", LogMelConfig()) for name in feature_sets]
    process = multiprocessing.get_context("spawn").Process(
        target=warm_up, args=(plans,), name="feature-warm-up", daemon=True
    )
    process.start()
    return process


def _mfcc_positions() -> np.ndarray:
    return np.flatnonzero(feature_columns("all").get_level_values(0) == "mfcc")


def process_clip(task: ClipTask) -> dict:
    """Decode one clip once, compute and journal each missing feature set; return its status.

    Never raises for a bad clip: decoding problems keep the decoder's status (``non_finite``
    included), a feature that raises gets status ``failed``; both store NaN values. No
    non-finite value is journalled for a clip a model sees (:data:`MUST_BE_FINITE`): such a
    row is refused and the clip gets status ``failed`` with the reason in ``error``.
    """
    with single_thread():
        return _process_clip(task)


@functools.lru_cache(maxsize=1)
def _thread_controller():  # built once per process; limit() is then ~10 us
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_thread():
    """One clip = one core: threaded BLAS only adds contention between workers, and a fixed
    thread count keeps the summation order (hence the last bits) the same on every path."""
    return _thread_controller().limit(limits=1)


def _process_clip(task: ClipTask) -> dict:
    clip = decode(task.path, config=task.decode)
    base = {
        "status": clip.status,
        "duration": float(clip.duration),
        "native_sr": int(clip.native_sr),
        "channels": int(clip.channels),
        "error": clip.error,
        "warnings": getattr(clip, "warnings", ""),
        "padded": False,
        "rms": _rms(clip),
        **task.fingerprint,
    }
    # Put "all" first so that "mfcc" reuses its columns.
    plans = sorted(task.sets, key=lambda p: p.name != "all")
    shared: dict = {}
    out = {"key": task.key, **base}
    for plan in plans:
        meta = dict(base)
        values = np.full(plan.row_shape, np.nan, dtype=plan.dtype)
        if clip.y is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # constant frames: NaN skew, by design
                    values, meta["padded"] = _compute(plan, clip.y, clip.sr, shared)
                values = np.asarray(values, dtype=plan.dtype)  # as stored (float16 may overflow)
                _refuse_non_finite(values, meta["status"])
            except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the pass
                meta["status"], meta["error"] = FAILED, f"{plan.name}: {type(exc).__name__}: {exc}"
                values = np.full(plan.row_shape, np.nan, dtype=plan.dtype)
        plan.store().write_clip(task.key, values, meta)
        if meta["status"] == FAILED:
            out["status"], out["error"] = FAILED, meta["error"]
        out["padded"] = out["padded"] or bool(meta["padded"])
    return out


class NonFiniteFeatures(ValueError):
    """Features of a clip a model would see hold NaN or infinite values."""


def _refuse_non_finite(values: np.ndarray, status: str) -> None:
    """Raise :class:`NonFiniteFeatures` when a clip of :data:`MUST_BE_FINITE` has bad values."""
    if status in MUST_BE_FINITE and not np.isfinite(values).all():
        n_bad = int(np.count_nonzero(~np.isfinite(values)))
        raise NonFiniteFeatures(
            f"{n_bad} of {values.size} values are NaN or infinite for a clip decoded as "
            f"{status!r}; not cached"
        )


def _rms(clip) -> float:
    """RMS of the mono signal (full scale = 1), the quantity ``decode`` tests for ``silent``.

    Uses ``clip.rms`` when the decoder provides it; otherwise BLAS nrm2 on the float32 samples
    (overflow-safe, ~1e-7 relative to the decoder's float64 value, 10x cheaper). 0.0 when
    nothing decoded: a cached row's numbers are always finite.
    """
    if getattr(clip, "rms", None) is not None:
        return float(clip.rms)
    if clip.y is None or clip.y.size == 0:
        return 0.0
    return float(np.linalg.norm(clip.y)) / float(np.sqrt(clip.y.size))


def restate(meta: dict, decode) -> dict:
    """A row's meta with its status re-derived for ``decode``'s thresholds.

    Same rule as :func:`harness.data.audio.decode`: ``short`` when the decoded duration is
    below ``min_duration``, else ``silent`` when the RMS is below ``silence_rms``, else ``ok``.
    Other statuses (missing, empty, corrupt, non_finite, failed) do not depend on thresholds.
    """
    if meta.get("status") not in RESTATABLE:
        return meta
    duration, rms = float(meta["duration"]), float(meta["rms"])
    if duration < decode.min_duration:
        status = "short"
    elif not rms >= decode.silence_rms:
        status = "silent"
    else:
        status = "ok"
    return meta if status == meta["status"] else dict(meta, status=status)
