"""What the feature cache checks before it trusts an entry it reads back.

A damaged or outdated entry is never used and never raises: it is reported by one
:class:`CacheRepairWarning` whose location is the damaged file (``<file>:0: CacheRepairWarning:
<problem>; <action>``, one line on stderr, once per file and problem) and treated as absent,
so the clips it held are recomputed by the next extraction. Damaged means:

- a group whose ``.current`` pointer names files that are not there;
- a group ``.npy`` whose header fails to parse, whose shape or dtype is not the store's, or whose
  size is not what its header promises (a truncated or padded file);
- a group ``.csv`` index that fails to parse, lacks a column (written by an earlier version, or
  cut short), has another row count than the array, or whose ``row`` column is not 0..n-1;
- one index row, or one journal meta, holding a value that is not of its column's kind: an
  empty or non-finite number (how a NaN written by ``to_csv`` reads back: ``""``), an unknown
  status, a key that does not parse, ``padded`` neither True nor False. Only that row's clip is
  recomputed; the rest of its group is kept.

The columns of a cached row's meta (:data:`META_COLUMNS`) and the statuses a row may hold
(:data:`ROW_STATUSES`) are defined here, next to the rules that check them.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.audio import STATUSES

#: Status of a clip that decoded but whose features could not be computed (or were refused).
FAILED = "failed"
ROW_STATUSES: tuple[str, ...] = (*STATUSES, FAILED)
META_COLUMNS: tuple[str, ...] = (
    "status",
    "duration",
    "native_sr",
    "channels",
    "error",
    "warnings",
    "padded",
    "rms",
    "path",
    "size",
    "mtime_ns",
)
INT_COLUMNS: tuple[str, ...] = ("native_sr", "channels", "size", "mtime_ns")
FLOAT_COLUMNS: tuple[str, ...] = ("duration", "rms")
TEXT_COLUMNS: tuple[str, ...] = ("status", "error", "warnings", "path")
INDEX_TEXT_COLUMNS: tuple[str, ...] = ("key", "kind", *TEXT_COLUMNS)
_INT_TEXT = re.compile(r"-?\d+")
_SAID: set[tuple] = set()  # (file, its mtime, problem) already said in this process


class CacheRepairWarning(UserWarning):
    """A damaged or outdated feature-cache entry was found; it is ignored and recomputed."""


def repair_notice(path: str | Path, problem: str, action: str = "its clips are recomputed") -> None:
    """Say, once per file and problem, that a cache entry is not used.

    Parameters
    ----------
    path : str or Path
        The damaged file (shown as the warning's location).
    problem : str
        What is wrong with it.
    action : str
        What happens instead.
    """
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = None
    said = (str(path), mtime, problem)
    if said in _SAID:  # the same damage met again (each stage reads the cache)
        return
    _SAID.add(said)
    # the damaged file as the location: "<file>:0: CacheRepairWarning: ..." and no source line
    warnings.warn_explicit(
        f"{problem}; {action}", CacheRepairWarning, str(path), 0, module="harness.features.cache"
    )


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


def _is_finite_number(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def meta_problem(meta: dict) -> str:
    """Why a cached row's meta (a dict of :data:`META_COLUMNS`) is unusable; "" when usable."""
    missing = [c for c in META_COLUMNS if c not in meta]
    if missing:
        return f"no {', '.join(missing)} (written by an earlier version, or cut short)"
    if meta["status"] not in ROW_STATUSES:
        return f"unknown status {meta['status']!r}"
    for c in INT_COLUMNS:
        if _as_int(meta[c]) is None:
            return f"{c} is {meta[c]!r}, not an integer"
    for c in FLOAT_COLUMNS:
        if not _is_finite_number(meta[c]):
            return f"{c} is {meta[c]!r}, not a finite number"
    if str(meta["padded"]) not in ("True", "False"):
        return f"padded is {meta['padded']!r}, not True or False"
    for c in TEXT_COLUMNS:
        if not isinstance(meta[c], str):
            return f"{c} is {meta[c]!r}, not a text"
    return ""


def npy_problem(path: Path, row_shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, str]:
    """Rows of a group array (from its header) and why it is unusable ("" when usable)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            major = fmt.read_magic(f)[0]
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, fortran, found = read(f)
            offset, size = f.tell(), os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return 0, "missing (the group's .current pointer names it)"
    except Exception as exc:  # noqa: BLE001 - ValueError, EOFError, OSError: unreadable
        return 0, f"unreadable header ({type(exc).__name__}: {exc})"
    if len(shape) != 1 + len(row_shape) or tuple(shape[1:]) != row_shape or found != dtype:
        return 0, f"holds {shape} {found}, expected (n, {row_shape}) {dtype}"
    if fortran:
        return 0, "Fortran-ordered array, expected C order"
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if size != expected:
        cut = "truncated" if size < expected else "trailing bytes"
        return 0, f"{size} bytes where its header promises {expected} ({cut})"
    return int(shape[0]), ""


def read_index(path: Path, n_rows: int) -> pd.DataFrame | None:
    """A group's ``.csv`` index, its damaged rows left out; None (said) when it is unusable.

    Parameters
    ----------
    path : Path
        The index file.
    n_rows : int
        Rows of the group's array, which the index must match.

    Returns
    -------
    pd.DataFrame or None
        Columns key, kind, row and :data:`META_COLUMNS`, typed as the writer wrote them.
    """
    try:
        index = pd.read_csv(
            path, dtype=dict.fromkeys(INDEX_TEXT_COLUMNS, str), keep_default_na=False
        )
    except FileNotFoundError:
        repair_notice(path, "missing (the group's .current pointer names it)")
        return None
    except Exception as exc:  # noqa: BLE001 - ParserError, UnicodeDecodeError, OSError...
        repair_notice(path, f"unreadable ({type(exc).__name__}: {exc})")
        return None
    missing = [c for c in ("key", "kind", "row", *META_COLUMNS) if c not in index.columns]
    problem = ""
    if missing:
        problem = f"no column {', '.join(missing)} (written by an earlier version, or cut short)"
    elif len(index) != n_rows:
        problem = f"{len(index)} index rows for the {n_rows} rows of its array"
    elif n_rows and not (
        pd.api.types.is_integer_dtype(index["row"])
        and np.array_equal(index["row"].to_numpy(), np.arange(n_rows))
    ):
        problem = "its row column is not 0..n-1"
    if problem:
        repair_notice(path, problem)
        return None
    bad = _bad_rows(index)
    if bad.any():
        keys = ", ".join(index.loc[bad, "key"].astype(str).head(5))
        repair_notice(
            path,
            f"{int(bad.sum())} rows with an empty or invalid value (keys {keys})",
            "those clips are recomputed",
        )
        index = _typed(index[~bad].reset_index(drop=True))
    return index


def _int_ok(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return np.ones(len(column), dtype=bool)
    return np.array([_as_int(v) is not None for v in column], dtype=bool)


def _bad_rows(index: pd.DataFrame) -> np.ndarray:
    """Rows of an index holding a value that is not of its column's kind."""
    kind, key = index["kind"].astype(str), index["key"].astype(str)
    ok = kind.isin(["i", "s"]).to_numpy() & (key != "").to_numpy()
    ok &= ~((kind == "i") & ~key.str.fullmatch(_INT_TEXT.pattern)).to_numpy()
    ok &= index["status"].isin(ROW_STATUSES).to_numpy()
    for c in FLOAT_COLUMNS:
        ok &= np.isfinite(pd.to_numeric(index[c], errors="coerce").to_numpy(dtype=float))
    for c in INT_COLUMNS:
        ok &= _int_ok(index[c])
    ok &= index["padded"].astype(str).isin(["True", "False"]).to_numpy()
    return ~ok


def _typed(index: pd.DataFrame) -> pd.DataFrame:
    """An index with its valid rows only, its columns given the dtypes a clean read gives."""
    index = index.copy()
    for c in ("row", *INT_COLUMNS):
        index[c] = np.array([_as_int(v) for v in index[c]], dtype=np.int64)
    for c in FLOAT_COLUMNS:
        index[c] = pd.to_numeric(index[c]).astype(np.float64)
    index["padded"] = index["padded"].astype(str).eq("True").to_numpy()
    return index
