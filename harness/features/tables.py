"""Read features back: cached tables and log-mel arrays, the official features.csv, and the
helper that drops failed clips before training (and says how many).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.fma import load_features
from harness.errors import DataError, ParameterError
from harness.features.cache import parse_key
from harness.features.config import (
    FEATURE_SETS,
    TABLE_SETS,
    LogMelConfig,
    check_feature_sets,
    feature_columns,
)
from harness.features.extracted import FAILED_STATUSES
from harness.features.worker import open_store

INDEX_COLUMNS: tuple[str, ...] = ("row", "status", "padded", "duration", "error")


@dataclass
class LogMelSet:
    """The log-mel spectrograms of one group.

    Attributes
    ----------
    data : np.memmap, shape (n, n_mels, n_frames), float16
        dB values, read-only; NaN rows for clips that failed to decode.
    index : pd.DataFrame
        Index key (row order of ``data``); columns row, status, padded, duration, error.
    config : LogMelConfig
    """

    data: np.ndarray
    index: pd.DataFrame
    config: LogMelConfig

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, keys: pd.Index, *, group: str) -> np.ndarray:
        """Row numbers of ``keys`` in ``data``, int64, in the order of ``keys``.

        Raises
        ------
        DataError
            A key has no row: the group was rewritten with other clips after this process
            extracted them (another run on the same cache, with other splits).
        """
        rows = self.index["row"].reindex(keys)
        missing = rows.index[rows.isna()]
        if len(missing):
            raise DataError(
                f"{len(missing)} of {len(keys)} clips (first: {missing.tolist()[0]!r}) have no "
                f"row in the cached log-mel group {group!r}: another run on this cache with "
                "other splits rewrote it meanwhile; run again, or give runs that overlap in "
                "time their own --cache-dir"
            )
        return rows.to_numpy(dtype=np.int64)


def _missing_cache(cache_dir, what: str) -> DataError:
    return DataError(
        f"{cache_dir}: no cached {what} for this configuration and these library versions; "
        f"run `fma-harness features` (or harness.features.extract) first"
    )


def _with_keys(index: pd.DataFrame) -> pd.DataFrame:
    keys = [parse_key(k, t) for k, t in zip(index["kind"], index["key"], strict=True)]
    out = index.drop(columns=["key", "kind"])
    out.index = pd.Index(keys, name="key")
    return out


def load_logmel(
    cache_dir: str | Path,
    *,
    group: str,
    logmel: LogMelConfig = LogMelConfig(),
    decode=None,
    feature_set: str = "logmel",
) -> LogMelSet:
    """Memory-map the log-mel array of one group written by :func:`extract`.

    ``decode`` is accepted for symmetry with :func:`extract` and not needed: rows are found
    whatever decode thresholds filled them. ``feature_set="musicnn-mel"`` reads the musicnn
    input of the same clips instead (its settings follow from ``logmel.duration``).

    Raises
    ------
    DataError
        Nothing cached for this group, config and library versions.
    """
    plan = open_store(cache_dir, feature_set, logmel=logmel, create=False)
    found = plan.store().read_group(group)
    if found is None:
        raise _missing_cache(cache_dir, f"{feature_set} spectrograms of group {group!r}")
    index = _with_keys(found.index)[list(INDEX_COLUMNS)]
    return LogMelSet(data=found.data, index=index, config=plan.logmel)


def load_feature_table(
    cache_dir: str | Path, *, keys: Iterable[Hashable], feature_set: str = "mfcc", decode=None
) -> pd.DataFrame:
    """The cached statistics of ``keys`` as a features.csv-style table.

    Parameters
    ----------
    cache_dir : str or Path
        Root of the feature cache.
    keys : iterable
        Clip keys (int track_id / str file_id), in the order wanted.
    feature_set : str
        "mfcc" (140 columns) or "all" (518).
    decode : DecodeConfig, optional
        Accepted for symmetry with :func:`extract`; not needed.

    Returns
    -------
    pd.DataFrame
        Index key; 3-level columns (feature, statistics, number); float32; NaN rows for clips
        that failed. ``.attrs["status"]`` is a Series of each row's status.

    Raises
    ------
    DataError
        A key has no cached row (name of the first one given).
    """
    if feature_set not in TABLE_SETS:
        raise ParameterError(f"feature_set must be one of {', '.join(TABLE_SETS)}")
    keys = list(keys)
    plan = open_store(cache_dir, feature_set, logmel=LogMelConfig(), create=False)
    store = plan.store()
    wanted = set(keys)
    values: dict = {}
    status: dict = {}
    for name in store.group_names():
        group = store.read_group(name)
        if group is None:
            continue
        index = _with_keys(group.index)
        hits = index[index.index.isin(wanted)]
        if len(hits):
            rows = np.asarray(group.data[np.sort(hits["row"].to_numpy())])
            order = np.argsort(np.argsort(hits["row"].to_numpy()))
            for key, row, st in zip(hits.index, rows[order], hits["status"], strict=True):
                values[key], status[key] = row, st
    absent = [k for k in keys if k not in values]
    if absent:
        raise _missing_cache(
            cache_dir,
            f"{feature_set!r} features for key {absent[0]!r} ({len(absent)} of {len(keys)} keys)",
        )
    cols = feature_columns(feature_set)
    matrix = np.stack([values[k] for k in keys]) if keys else np.empty((0, len(cols)), np.float32)
    table = pd.DataFrame(matrix, index=pd.Index(keys, name="key"), columns=cols)
    table.attrs["status"] = pd.Series([status[k] for k in keys], index=table.index, name="status")
    return table


def cache_keys(
    cache_dir: str | Path, *, logmel: LogMelConfig = LogMelConfig(), feature_sets=FEATURE_SETS
) -> dict[str, str]:
    """The cache key (directory name) of each feature set cached under ``cache_dir``.

    Returns
    -------
    dict
        feature set -> ``"<set>-<hash>"`` for the sets present for this config and these
        library versions (the hash covers the recipe, ``logmel`` and the versions).
    """
    keys = {}
    for name in check_feature_sets(feature_sets):
        plan = open_store(cache_dir, name, logmel=logmel, create=False)
        if plan.store().exists():
            keys[name] = Path(plan.root).name
    return keys


def official_features(path: str | Path, *, feature_set: str = "mfcc") -> pd.DataFrame:
    """Columns of the official ``fma_metadata/features.csv`` (no audio needed).

    Parameters
    ----------
    path : str or Path
        The features.csv file, or an FMA root / fma_metadata directory containing it.
    feature_set : str
        "mfcc" (140 columns), "all" (518), or one feature name such as "spectral_contrast".

    Returns
    -------
    pd.DataFrame
        Index track_id; the same 3-level columns as :func:`load_feature_table`; float32.
    """
    path = Path(path)
    if path.is_dir():
        candidates = [path / "features.csv", path / "fma_metadata" / "features.csv"]
        path = next((p for p in candidates if p.is_file()), candidates[-1])
    table = load_features(path)
    cols = feature_columns(feature_set)
    return table.loc[:, cols].astype(np.float32)


def drop_failed(features: pd.DataFrame, status: pd.Series | None = None) -> pd.DataFrame:
    """Rows usable for training: every value finite and, when given, status not a failure.

    Parameters
    ----------
    features : pd.DataFrame
        A feature table (rows = clips).
    status : pd.Series, optional
        Status per row (defaults to ``features.attrs["status"]`` when present). Clips whose
        status is one of :data:`~harness.features.extracted.FAILED_STATUSES` (missing, empty,
        corrupt, non_finite, failed) are dropped even if their values are finite.

    Returns
    -------
    pd.DataFrame
        The kept rows; ``.attrs["n_dropped"]`` (int) and ``.attrs["dropped"]`` (dict status ->
        count, "nan" for rows dropped only for non-finite values).
    """
    if status is None:
        status = features.attrs.get("status")
    finite = np.isfinite(features.to_numpy(dtype=np.float64)).all(axis=1)
    bad = ~finite
    reasons = np.where(finite, "", "nan").astype(object)
    if status is not None:
        st = status.reindex(features.index).fillna("missing").astype(str).to_numpy()
        failed = np.isin(st, list(FAILED_STATUSES))
        bad |= failed
        reasons = np.where(failed | (bad & (st != "ok")), st, reasons)
    kept = features[~bad].copy()
    kept.attrs = {k: v for k, v in features.attrs.items() if k != "status"}
    if status is not None:
        kept.attrs["status"] = status.reindex(kept.index)
    counts = pd.Series(reasons[bad]).value_counts()
    kept.attrs["n_dropped"] = int(bad.sum())
    kept.attrs["dropped"] = {str(k): int(v) for k, v in counts.items()}
    return kept
