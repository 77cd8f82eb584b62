"""Audio features for genre recognition: MFCC-140 (the FMA paper's), the full 518 set, log-mel.

Typical use::

    from harness.features import LogMelConfig, extract, load_feature_table, load_logmel

    status = extract(clips, cache_dir=".cache/features", feature_sets=("mfcc", "logmel"))
    X = load_feature_table(".cache/features", keys=train_ids, feature_set="mfcc")
    X = drop_failed(X)                       # X.attrs["n_dropped"] says how many went
    mels = load_logmel(".cache/features", group="training", logmel=LogMelConfig())

Modules: :mod:`~harness.features.config` (feature sets, :class:`LogMelConfig`, cache keys),
:mod:`~harness.features.mfcc` (reference recipe), :mod:`~harness.features.logmel`,
:mod:`~harness.features.cache` (the crash-safe store), :mod:`~harness.features.integrity`
(what the store checks before it trusts an entry), :mod:`~harness.features.worker` (one
clip's job), :mod:`~harness.features.parallel` (loky / dask execution, progress),
:mod:`~harness.features.runner` (:func:`extract`), :mod:`~harness.features.tables` (reading
back, official features.csv, :func:`drop_failed`).
"""

from harness.features.config import (
    FEATURE_SETS,
    STATISTICS,
    LogMelConfig,
    check_feature_sets,
    feature_columns,
    library_versions,
    logmel_for_clips,
)
from harness.features.integrity import CacheRepairWarning
from harness.features.logmel import logmel_spectrogram
from harness.features.mfcc import all_stats, frame_statistics, mfcc_stats, stft_magnitude
from harness.features.runner import STATUS_COLUMNS, extract
from harness.features.tables import (
    LogMelSet,
    cache_keys,
    drop_failed,
    load_feature_table,
    load_logmel,
    official_features,
)
from harness.features.worker import FAILED

__all__ = [
    "FAILED",
    "CacheRepairWarning",
    "FEATURE_SETS",
    "STATISTICS",
    "STATUS_COLUMNS",
    "LogMelConfig",
    "LogMelSet",
    "all_stats",
    "cache_keys",
    "check_feature_sets",
    "drop_failed",
    "extract",
    "feature_columns",
    "frame_statistics",
    "library_versions",
    "load_feature_table",
    "load_logmel",
    "logmel_for_clips",
    "logmel_spectrogram",
    "mfcc_stats",
    "official_features",
    "stft_magnitude",
]
