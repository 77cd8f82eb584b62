"""A run's extracted features: the status of every clip and where its feature rows are.

:class:`ExtractedFeatures` is what the feature stage hands to the models and the checks: the
extraction status table (one row per clip key), the cache directory and the settings the rows
were computed with, or a feature table given directly (the official ``features.csv``). The
functions below say which clips of a group a model may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.data.audio import DecodeConfig
from harness.data.prepared import PreparedData
from harness.features.config import LogMelConfig

# Clips with no audio to learn from: models neither train nor predict on them. ``non_finite``:
# the samples hold NaN or inf (no features are computed); ``failed``: a feature raised, or came
# out NaN / inf for a clip that decoded fine (the worker refuses to cache it).
FAILED_STATUSES = ("missing", "empty", "corrupt", "non_finite", "failed")
# A clip that decodes to digital silence carries no genre: models neither train nor predict on
# it, and its prediction is the training prior (as for a clip that failed to decode). The
# reference rows (uniform, prior) ignore their input and predict it like any other clip.
NO_SIGNAL_STATUSES = ("silent",)


@dataclass
class ExtractedFeatures:
    """Where a run's features are.

    Attributes
    ----------
    status : pd.DataFrame
        Index clip key; columns ``group``, ``status`` (ok, short, silent, missing, ...) and the
        decode measurements and warnings (:data:`harness.features.STATUS_COLUMNS`).
    cache_dir : Path
        The feature cache the rows were written to.
    logmel : LogMelConfig or None
        Log-mel settings of the cached spectrograms (None when none were extracted).
    decode : DecodeConfig or None
        How the statuses were judged (which length counts as ``short``).
    feature_set : str
        The feature table the feature-table models read (``mfcc``: MFCC-140).
    table : pd.DataFrame or None
        A feature table given directly (official features.csv), index track_id.
    pretrained : dict
        source -> group -> :class:`harness.pretrained.store.EmbeddingSet`: the pretrained
        embeddings of every clip, for the models that consume them (empty when none do).
    representations : tuple
        The (source, representation) pairs those models read.
    """

    status: pd.DataFrame
    cache_dir: Path
    logmel: LogMelConfig | None
    decode: DecodeConfig | None = None
    feature_set: str = "mfcc"
    table: pd.DataFrame | None = None
    pretrained: dict = field(default_factory=dict)
    representations: tuple = ()


def usable_keys(
    data: PreparedData, features: ExtractedFeatures, group: str, *, silent: bool = False
) -> pd.Index:
    """Keys of ``group`` a model sees: clips that decoded and are not digital silence.

    Clips of :data:`FAILED_STATUSES` (missing, empty, corrupt, non_finite, failed) are always
    excluded; ``silent=True`` keeps the silent ones (for the reference rows, which ignore their
    input).
    """
    keys = data.keys(group)
    status = features.status["status"].reindex(keys)
    excluded = FAILED_STATUSES if silent else FAILED_STATUSES + NO_SIGNAL_STATUSES
    return keys[~status.isin(excluded).to_numpy() & status.notna().to_numpy()]


def silent_keys(data: PreparedData, features: ExtractedFeatures, group: str) -> pd.Index:
    """Keys of ``group`` whose clip decoded to digital silence (no genre to recognise)."""
    keys = data.keys(group)
    status = features.status["status"].reindex(keys)
    return keys[status.isin(NO_SIGNAL_STATUSES).to_numpy()]
