"""Run feature extraction over a clips table: plan from the cache, compute in parallel, consolidate.

One pass decodes each clip that needs work once, at its native rate
(:func:`harness.data.audio.decode`), and computes every requested feature set from that one
decode: MFCC-140 / the 518 set from the native-rate STFT, log-mel after ``librosa.resample``.

Steps: plan (which clips lack a valid cached row in which set, :func:`_plan_tasks`); compute
(:func:`harness.features.worker.process_clip` on :func:`harness.features.parallel.run_tasks`;
workers journal their rows into the shared cache and return status dicts only); consolidate
the journal into one array per (feature set, group) with bounded memory; report statuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.audio import DecodeConfig
from harness.errors import ParameterError
from harness.features import worker
from harness.features.cache import (
    FINGERPRINT,
    META_COLUMNS,
    FeatureStore,
    fingerprint,
    key_token,
)
from harness.features.config import LogMelConfig, check_feature_sets
from harness.features.parallel import run_tasks
from harness.features.worker import FAILED, ClipTask, SetPlan, open_store, restate

STATUS_COLUMNS: tuple[str, ...] = (
    "group",
    "status",
    "duration",
    "native_sr",
    "channels",
    "error",
    "warnings",
    "padded",
)


def check_clips(clips: pd.DataFrame) -> pd.DataFrame:
    """Validate a clips table (index key, columns path and group)."""
    if not isinstance(clips, pd.DataFrame) or not {"path", "group"} <= set(clips.columns):
        raise ParameterError("clips: expected a DataFrame with columns 'path' and 'group'")
    if not clips.index.is_unique:
        dup = clips.index[clips.index.duplicated()][0]
        raise ParameterError(f"clips: key {dup} appears more than once; keys must be unique")
    for key in clips.index[:1]:
        key_token(key)  # raises TypeError for keys that are neither int nor str
    return clips


def _known(store: FeatureStore, keys: set) -> dict:
    """key -> (source, location, meta) for every cached row of ``keys`` (journal wins)."""
    known: dict = {}
    for name in store.group_names():
        group = store.read_group(name)
        if group is None:
            continue
        table = group.index
        kinds, texts = table["kind"].tolist(), table["key"].tolist()
        records = table.to_dict("records")
        for kind, text, rec in zip(kinds, texts, records, strict=True):
            key = int(text) if kind == "i" else text
            if key in keys:
                known[key] = ("store", group, rec)
    tokens = store.journal_tokens()
    for key in keys:
        if key_token(key) in tokens:
            entry = store.read_clip(key, values=False)
            if entry is not None:
                known[key] = ("journal", None, entry[1])
    return known


def _valid(entry, fp: dict) -> bool:
    if entry is None:
        return False
    meta = entry[2]
    return all(str(meta.get(k)) == str(fp[k]) for k in FINGERPRINT)


def _lost(path: str, plan: SetPlan, why: str) -> tuple[np.ndarray, dict]:
    """A ``failed`` row for a clip whose result cannot be read back.

    Its fingerprint is one no file has (size and mtime -2; a missing file has -1), so the next
    extraction recomputes the clip instead of trusting the row.
    """
    meta = {c: "" for c in META_COLUMNS} | {
        "status": FAILED,
        "duration": 0.0,
        "native_sr": 0,
        "channels": 0,
        "padded": False,
        "rms": 0.0,
        "error": f"{plan.name}: {why}; computed again by the next run",
        "path": fingerprint(path)["path"],
        "size": -2,
        "mtime_ns": -2,
    }
    return np.full(plan.row_shape, np.nan, dtype=plan.dtype), meta


def _records(
    store: FeatureStore, members: pd.DataFrame, known: dict, plan: SetPlan, decode
) -> Iterator[tuple[np.ndarray, dict]]:
    """(values, meta) of each clip of ``members`` in order, from the journal or the store."""
    for key, path in zip(members.index, members["path"], strict=True):
        if key not in known:  # a task whose result never reached the journal
            yield _lost(path, plan, "no result in the cache")
            continue
        source, group, meta = known[key]
        if source == "journal":
            entry = store.read_clip(key)
            if entry is None:  # vanished or damaged since the worker wrote it
                yield _lost(path, plan, "journal entry unreadable")
                continue
            yield entry[0], restate(entry[1], decode)
        else:
            yield np.array(group.data[int(meta["row"])]), restate(meta, decode)


def _consolidate(plan: SetPlan, clips: pd.DataFrame, decode) -> dict:
    """Rewrite the groups whose content changed; return key -> meta for every clip."""
    store = plan.store()
    keys = set(clips.index)
    known = _known(store, keys)
    metas: dict = {}
    for group_name, members in clips.groupby("group", sort=False):
        group_keys = list(members.index)
        current = store.read_group(str(group_name))
        unchanged = (
            current is not None
            and all(
                known.get(k, (None,))[0] == "store" and known[k][1].data_path == current.data_path
                for k in group_keys
            )
            and current.index["key"].tolist() == [str(k) for k in group_keys]
            and all(restate(known[k][2], decode) is known[k][2] for k in group_keys)
        )
        if unchanged:
            written = [known[k][2] for k in group_keys]
        else:
            records = _records(store, members, known, plan, decode)
            written = store.write_group(str(group_name), group_keys, records)
        metas.update(zip(group_keys, written, strict=True))
    store.drop_journal(k for k, v in known.items() if v[0] == "journal")
    return metas


def _plan_tasks(clips: pd.DataFrame, plans: list[SetPlan], decode) -> list[ClipTask]:
    """One task per clip that lacks a valid cached row in any requested feature set."""
    keys = set(clips.index)
    known = {plan.name: _known(plan.store(), keys) for plan in plans}
    tasks = []
    for key, path in zip(clips.index, clips["path"], strict=True):
        fp = fingerprint(path)
        todo = tuple(p for p in plans if not _valid(known[p.name].get(key), fp))
        if todo:
            tasks.append(ClipTask(key, str(path), fp, todo, decode))
    return tasks


def _status_table(clips: pd.DataFrame, metas: dict[str, dict]) -> pd.DataFrame:
    """Combine the per-set metas into one row per clip (a failure in any set shows)."""
    names = list(metas)
    rows = []
    for key in clips.index:
        base = metas[names[0]][key]
        row = {c: base.get(c) for c in STATUS_COLUMNS[1:]}
        row["error"], row["warnings"] = row["error"] or "", row["warnings"] or ""
        for name in names:
            meta = metas[name][key]
            if meta.get("status") == FAILED and row["status"] != FAILED:
                row["status"], row["error"] = FAILED, meta.get("error") or ""
            if name == "logmel":
                row["padded"] = str(meta.get("padded")) == "True"
        row["padded"] = str(row["padded"]) == "True"
        rows.append(row)
    table = pd.DataFrame(rows, index=clips.index.copy(), columns=list(STATUS_COLUMNS[1:]))
    table.insert(0, "group", clips["group"].astype(str).to_numpy())
    table.index.name = "key"
    return table.astype({"duration": float, "native_sr": int, "channels": int, "padded": bool})


def extract(
    clips: pd.DataFrame,
    *,
    cache_dir: str | Path,
    feature_sets=("mfcc", "logmel"),
    logmel: LogMelConfig = LogMelConfig(),
    n_jobs: int = -1,
    scheduler: str | None = None,
    progress: bool | None = None,
    decode=None,
) -> pd.DataFrame:
    """Compute (or reuse from the cache) the requested feature sets for every clip.

    Parameters
    ----------
    clips : pd.DataFrame
        Index: key (int track_id or str file_id); columns ``path`` (audio file) and ``group``
        (e.g. "training", "validation", "test", "challenge").
    cache_dir : str or Path
        Root of the feature cache (shared by every worker when a scheduler is given).
    feature_sets : sequence of str or str
        Some of "mfcc", "all", "logmel" (a comma-separated string is accepted).
    logmel : LogMelConfig
        Log-mel parameters (only used when "logmel" is requested).
    n_jobs : int
        Parallel workers; -1 uses every core (or every dask worker), 1 runs in this process.
    scheduler : str or None
        dask.distributed scheduler address ("tcp://host:8786"), "local" for a LocalCluster,
        or None for joblib's loky processes.
    progress : bool or None
        Show a rich progress bar; None shows it when stderr is a terminal.
    decode : harness.data.audio.DecodeConfig or None
        Status thresholds (default ``DecodeConfig()``); clips are decoded at their native rate.

    Returns
    -------
    pd.DataFrame
        Index key (clips' order); columns group, status, duration (s), native_sr (Hz),
        channels, error, warnings (:data:`harness.data.audio.WARNINGS` found, "" when none),
        padded (log-mel zero-padded). ``.attrs`` holds ``n_computed`` (clips
        decoded in this call) and ``n_cached``.
    """
    sets = check_feature_sets(feature_sets)
    clips = check_clips(clips)
    decode = decode or DecodeConfig()
    if decode.sr is not None or not decode.mono:
        raise ParameterError("extract: decode must be mono at the native rate (sr=None)")
    plans = [open_store(cache_dir, s, logmel=logmel, create=True) for s in sets]
    tasks = _plan_tasks(clips, plans, decode)
    if tasks and (n_jobs != 1 or scheduler is not None):
        worker.warm_up(plans)
    run_tasks(worker.process_clip, tasks, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    metas = {plan.name: _consolidate(plan, clips, decode) for plan in plans}
    table = _status_table(clips, metas)
    table.attrs["n_computed"] = len(tasks)
    table.attrs["n_cached"] = len(clips) - len(tasks)
    return table
