"""The cache of changed-audio features: one ``<change>.npz`` per audio change, and a journal.

Layout under ``<cache_dir>/robustness/<key>/`` (the key names the feature recipes, the library
versions and :data:`harness.features.perturb.PERTURB_VERSION`; see
:func:`harness.features.changed.robustness_key`):

- ``<change>.npz``: one row per clip, in the order of the run that wrote it. Arrays ``kind``
  (``i``/``s``, the key's type), ``key`` (text), the audio file's ``path``, ``size`` and
  ``mtime_ns`` (a row counts only while they still match the file), ``error`` ("" when the
  change and both features succeeded), ``mfcc`` (n, 140) float32, ``logmel`` (n, n_mels,
  n_frames) float16 and ``padded`` (n,) bool. A failed clip keeps its error and NaN / zero
  features: the same change fails the same way on the same file, so it is not tried again.
- ``journal/<change>/<key token>.npz``: the same arrays for one clip, written by a worker as
  soon as it is done (atomic rename), so an interrupted pass resumes where it stopped; folded
  into ``<change>.npz`` and deleted at the end of the pass.

Every file is written to a temporary name and renamed: a reader sees the old file or the new
one, never half of one. A file that cannot be read counts as absent and is computed again.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import log
from harness.features.cache import FINGERPRINT, key_kind, key_token, parse_key
from harness.storage import atomic_target

JOURNAL_DIR = "journal"
META_ARRAYS = ("kind", "key", "path", "size", "mtime_ns", "error")
ROW_ARRAYS = (*META_ARRAYS, "mfcc", "logmel", "padded")
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


@dataclass
class ChangedSet:
    """The test clips' features under one audio change.

    Attributes
    ----------
    change : str
        The change's name (:data:`harness.features.perturb.CHANGES`).
    keys : pd.Index
        Clips whose change and features succeeded, in the order asked for.
    mfcc : np.ndarray, shape (len(keys), 140), float32
        MFCC-140 rows, columns as ``feature_columns("mfcc")``.
    logmel : np.ndarray, shape (len(keys), n_mels, n_frames), float16
        Log-mel spectrograms in dB, cropped or padded like the clean ones.
    failures : pd.DataFrame
        Index ``key``; column ``error``: clips the change or a feature failed on.
    """

    change: str
    keys: pd.Index
    mfcc: np.ndarray
    logmel: np.ndarray
    failures: pd.DataFrame


def row_record(key: Hashable, fp: dict, *, error: str, mfcc, logmel, padded: bool) -> dict:
    """One clip's arrays (each with a leading axis of 1), as stored."""
    return {
        "kind": np.array([key_kind(key)]),
        "key": np.array([str(key)]),
        "path": np.array([fp["path"]]),
        "size": np.array([fp["size"]], dtype=np.int64),
        "mtime_ns": np.array([fp["mtime_ns"]], dtype=np.int64),
        "error": np.array([error]),
        "mfcc": np.asarray(mfcc, dtype=np.float32)[None],
        "logmel": np.asarray(logmel, dtype=np.float16)[None],
        "padded": np.array([bool(padded)]),
    }


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file, then rename onto ``path`` (atomic)."""
    with atomic_target(path, durable=True) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def journal_path(folder: Path, change: str, key: Hashable) -> Path:
    return Path(folder) / JOURNAL_DIR / change / f"{key_token(key)}.npz"


def _valid_rows(path: Path, fingerprints: dict[Hashable, dict]) -> dict[Hashable, int]:
    """key -> row of the rows of ``path`` whose file fingerprint still matches; {} if unreadable."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = {name: z[name].tolist() for name in META_ARRAYS}
    except UNREADABLE as exc:
        log.warning(f"{path}: unreadable ({type(exc).__name__}); computed again")
        return {}
    rows = {}
    for row, (kind, text) in enumerate(zip(meta["kind"], meta["key"], strict=True)):
        key = parse_key(kind, text)
        fp = fingerprints.get(key)
        if fp is not None and all(str(meta[f][row]) == str(fp[f]) for f in FINGERPRINT):
            rows[key] = row
    return rows


def cached_keys(folder: Path, change: str, fingerprints: dict[Hashable, dict]) -> set:
    """Clips of ``fingerprints`` with a valid row for ``change``, stored or in the journal."""
    done = set(_valid_rows(Path(folder) / f"{change}.npz", fingerprints))
    for key, fp in fingerprints.items():
        if key not in done and _valid_rows(journal_path(folder, change, key), {key: fp}):
            done.add(key)
    return done


def consolidate(
    folder: Path, change: str, fingerprints: dict[Hashable, dict], *, shapes: dict[str, tuple]
) -> Path:
    """Fold the journal into ``<change>.npz`` for the clips of ``fingerprints``, in their order.

    The file is left as it is (not rewritten) when it already holds a valid row for every clip
    and the journal has none; otherwise it is rewritten with exactly these clips. A clip with
    no valid row anywhere (its worker died) is stored as failed, with NaN MFCC and zero log-mel
    of ``shapes["mfcc"]`` and ``shapes["logmel"]``, and is computed again by the next run.
    """
    folder = Path(folder)
    target = folder / f"{change}.npz"
    stored = _valid_rows(target, fingerprints)
    journal = {k: journal_path(folder, change, k) for k in fingerprints}
    journal = {k: p for k, p in journal.items() if _valid_rows(p, {k: fingerprints[k]})}
    if not journal and set(stored) == set(fingerprints):
        return target
    old = _load_rows(target) if stored else {}
    records = []
    for key, fp in fingerprints.items():
        if key in journal:
            records.append(_load_rows(journal[key]))
        elif key in stored:
            records.append({name: old[name][stored[key]][None] for name in ROW_ARRAYS})
        else:
            unmatched = dict(fp, size=-2, mtime_ns=-2)  # no file has it: tried again next run
            records.append(
                row_record(
                    key,
                    unmatched,
                    error="no result reached the cache",
                    padded=False,
                    mfcc=np.full(shapes["mfcc"], np.nan),
                    logmel=np.zeros(shapes["logmel"]),
                )
            )
    save_arrays(target, {name: np.concatenate([r[name] for r in records]) for name in ROW_ARRAYS})
    for path in journal.values():
        path.unlink(missing_ok=True)
    for empty in (folder / JOURNAL_DIR / change, folder / JOURNAL_DIR):
        with contextlib.suppress(OSError):  # still holds entries (of other clips): keep it
            empty.rmdir()
    return target


def _load_rows(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in ROW_ARRAYS}


def load_changed(path: Path, change: str, keys: Iterable[Hashable]) -> ChangedSet:
    """The rows of ``keys`` (in that order) from a consolidated ``<change>.npz``."""
    keys = list(keys)
    arrays = _load_rows(path)
    stored = [parse_key(k, t) for k, t in zip(arrays["kind"], arrays["key"], strict=True)]
    rows = pd.Index(stored).get_indexer(keys)
    found = arrays["error"][np.maximum(rows, 0)] if len(stored) else np.full(len(keys), "")
    errors = np.where(rows >= 0, found, "not in the robustness cache")
    ok = (rows >= 0) & (errors == "")
    failed = [k for k, good in zip(keys, ok, strict=True) if not good]
    failures = pd.DataFrame({"error": errors[~ok]}, index=pd.Index(failed, name="key"))
    return ChangedSet(
        change=change,
        keys=pd.Index([k for k, good in zip(keys, ok, strict=True) if good], name="key"),
        mfcc=arrays["mfcc"][rows[ok]],
        logmel=arrays["logmel"][rows[ok]],
        failures=failures,
    )
