"""The on-disk feature store: crash-safe per-clip journal, consolidated per-group arrays.

Layout of one feature set's directory (named by :func:`~harness.features.config.set_dirname`)::

    <cache_dir>/<set>-<hash>/spec.json                  what the hash covers (config, versions)
    <cache_dir>/<set>-<hash>/journal/<key>.npz          one finished clip (values + meta)
    <cache_dir>/<set>-<hash>/groups/<group>.current     token of the group's live files
    <cache_dir>/<set>-<hash>/groups/<group>.<token>.npy (n, *row_shape) rows, in index order
    <cache_dir>/<set>-<hash>/groups/<group>.<token>.csv index: key, kind, row, status, ...

Why a row is never half-valid:

- A worker writes each finished clip to ``journal/<key>.npz.<pid>.tmp`` and renames it into
  place (``os.replace`` is atomic); a run killed with SIGKILL leaves at most a ``.tmp`` file,
  which is ignored, and removed once it is :data:`STALE_SECONDS` old. A journal file that
  fails to load is treated as absent.
- Consolidation writes a new ``.npy`` and ``.csv`` under a fresh token, fsyncs both, and only
  then replaces the ``.current`` pointer; readers follow the pointer, so they see the old group
  or the new one, never a mixture. Journal files are removed after the pointer moves, and the
  group's previous files with them.
- Several runs may share a cache at once. A file another process is still writing is never
  removed: only the files the pointer has just left, and leftovers :data:`STALE_SECONDS` old.
  (Removing every other ``.tmp`` once crashed a run whose consolidation overlapped another's.)
- What is read back is validated first (:mod:`~harness.features.integrity`): a truncated
  ``.npy``, an index ``.csv`` that fails to parse or disagrees with its array, a row with an
  empty number, a journal file that fails to load: each is said once (a
  :class:`~harness.features.integrity.CacheRepairWarning` naming the file) and treated as
  absent, so its clips are recomputed; a damaged journal file is deleted.

A cached row is reused when its recorded audio path, size and mtime (ns) match the file's
(:data:`FINGERPRINT`). Rows also keep the decoded duration and RMS, so that a clip's status can
be re-derived for other ``short`` / ``silent`` thresholds without decoding it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.features.integrity import (
    META_COLUMNS,
    meta_problem,
    npy_problem,
    read_index,
    repair_notice,
)
from harness.storage import write_text_atomic

#: A cached row is valid while these equal the current file's.
FINGERPRINT: tuple[str, ...] = ("path", "size", "mtime_ns")
#: A temporary or superseded file untouched this long (s) belongs to no live writer.
STALE_SECONDS = 3600.0
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_TOKEN = re.compile(r"[0-9a-f]{1,64}")  # write_group's tokens: 12 hex digits


def fingerprint(path: str | Path) -> dict:
    """:data:`FINGERPRINT` of an audio file; size and mtime are -1 when it is missing. The path
    is absolute and normalised: ``--root ../fma`` and ``--root /data/fma`` share the cache."""
    path = Path(os.path.abspath(path))
    try:
        st = path.stat()
        size, mtime = int(st.st_size), int(st.st_mtime_ns)
    except OSError:
        size, mtime = -1, -1
    return {"path": str(path), "size": size, "mtime_ns": mtime}


def key_kind(key: Hashable) -> str:
    """``"i"`` for an integer key (track_id), ``"s"`` for a string key (file_id)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return "i"
    if isinstance(key, str):
        return "s"
    raise TypeError(f"clip keys must be int or str, got {type(key).__name__} {key!r}")


def key_token(key: Hashable) -> str:
    """A file-name-safe, collision-free token for a key (``i123``, ``s<file_id>``, ``h<sha1>``)."""
    kind = key_kind(key)
    text = str(int(key)) if kind == "i" else key
    if _SAFE.match(text):
        return kind + text
    return "h" + hashlib.sha1(f"{kind}:{text}".encode()).hexdigest()


def parse_key(kind: str, text: str) -> Hashable:
    """Inverse of the (kind, text) pair stored in index files."""
    return int(text) if kind == "i" else str(text)


def is_stale(path: str | Path, *, now: float | None = None) -> bool:
    """Whether ``path`` was last modified :data:`STALE_SECONDS` ago or more (False when it
    is gone)."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return False
    return (time.time() if now is None else now) - mtime >= STALE_SECONDS


@dataclass
class GroupIndex:
    """A consolidated group: its index table and the path of its row array."""

    name: str
    index: pd.DataFrame  # columns key, kind, row + META_COLUMNS
    data_path: Path
    _data: np.ndarray | None = field(default=None, repr=False)

    @property
    def data(self) -> np.ndarray:
        """The rows as a read-only memory map, shape (n, *row_shape)."""
        if self._data is None:
            self._data = np.load(self.data_path, mmap_mode="r", allow_pickle=False)
        return self._data


class FeatureStore:
    """One feature set's cache directory.

    Parameters
    ----------
    root : Path
        ``<cache_dir>/<set>-<hash>``.
    row_shape : tuple of int
        Shape of one clip's values, e.g. (140,) or (n_mels, n_frames).
    dtype : numpy dtype
        float32 for statistics, float16 for log-mel.
    """

    def __init__(self, root: Path, *, row_shape: tuple[int, ...], dtype) -> None:
        self.root = Path(root)
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.journal_dir = self.root / "journal"
        self.groups_dir = self.root / "groups"

    def create(self, spec: dict) -> FeatureStore:
        """Create the directories and ``spec.json`` (idempotent)."""
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.groups_dir.mkdir(parents=True, exist_ok=True)
        spec_path = self.root / "spec.json"
        if not spec_path.exists():
            write_text_atomic(
                spec_path, json.dumps(spec, indent=2, sort_keys=True, default=str), durable=True
            )
        return self

    def exists(self) -> bool:
        return (self.root / "spec.json").is_file()

    # -- journal: one file per finished clip -------------------------------------------------
    def journal_path(self, key: Hashable) -> Path:
        return self.journal_dir / f"{key_token(key)}.npz"

    def write_clip(self, key: Hashable, values: np.ndarray, meta: dict) -> None:
        """Atomically record one finished clip (values of ``row_shape``, meta of META_COLUMNS)."""
        values = np.asarray(values, dtype=self.dtype)
        if values.shape != self.row_shape:
            raise ValueError(f"{key!r}: values of shape {values.shape}, expected {self.row_shape}")
        record = dict(meta, key=str(key), kind=key_kind(key))
        path = self.journal_path(key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, values=values, meta=np.array(json.dumps(record, default=str)))
        os.replace(tmp, path)

    def read_clip(self, key: Hashable, *, values: bool = True) -> tuple | None:
        """A journal entry ``(values, meta)``, or None when absent or unusable.

        With ``values=False`` only the meta is read (``values`` is then None); the row is
        still checked for shape and dtype from the file's header, and the meta for the kind
        of each value (:func:`~harness.features.integrity.meta_problem`), so a damaged entry
        never reads as valid. A damaged entry is said once and deleted.
        """
        path = self.journal_path(key)
        entry, problem = self._load_clip(path, values)
        if entry is not None:
            meta = entry[1]
            if meta.get("key") != str(key) or meta.get("kind") != key_kind(key):
                problem = f"holds key {meta.get('key')!r}, expected {key!r}"
            else:
                problem = meta_problem(meta)
        if problem:
            repair_notice(path, problem, "deleted; its clip is recomputed unless cached")
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None
        return entry

    def _load_clip(self, path: Path, values: bool) -> tuple[tuple | None, str]:
        """``((values, meta), "")`` from a journal file, or ``(None, problem)``."""
        try:
            # our own handle: np.load leaves its file open when the zip fails to parse
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                if values:
                    row = npz["values"]
                    shape, dtype = row.shape, row.dtype
                else:
                    row = None
                    with npz.zip.open("values.npy") as f:
                        shape, dtype = _npy_header(f)
        except FileNotFoundError:  # removed meanwhile (consolidated by another process)
            return None, ""
        except Exception as exc:  # noqa: BLE001 - OSError, BadZipFile, EOFError, JSON...
            return None, f"unreadable ({type(exc).__name__}: {exc})"
        if shape != self.row_shape or dtype != self.dtype:
            return None, f"values of {shape} {dtype}, expected {self.row_shape} {self.dtype}"
        if not isinstance(meta, dict):
            return None, "its meta is not a record"
        return (row, meta), ""

    def journal_tokens(self) -> set[str]:
        """Tokens of the finished journal entries (removes stale ``.tmp`` files: a fresh one
        may be another process's clip, about to be renamed into place)."""
        tokens = set()
        if not self.journal_dir.is_dir():
            return tokens
        for entry in os.scandir(self.journal_dir):
            if entry.name.endswith(".tmp"):
                if is_stale(entry.path):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
            elif entry.name.endswith(".npz"):
                tokens.add(entry.name[:-4])
        return tokens

    def drop_journal(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.journal_path(key))

    # -- consolidated groups ----------------------------------------------------------------
    def group_names(self) -> list[str]:
        if not self.groups_dir.is_dir():
            return []
        return sorted(p.name[: -len(".current")] for p in self.groups_dir.glob("*.current"))

    def read_group(self, name: str) -> GroupIndex | None:
        """The live files of a group, validated; None when never consolidated or unusable.

        A damaged array or index makes the whole group absent, a damaged index row only that
        row (:mod:`~harness.features.integrity`); either is said once, naming the file.
        """
        safe = _safe_group(name)
        pointer = self.groups_dir / f"{safe}.current"
        try:
            token = pointer.read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            token = f"unreadable ({type(exc).__name__})"
        if not _TOKEN.fullmatch(token):
            repair_notice(pointer, f"names no group files: {token[:40]!r}")
            return None
        data_path = self.groups_dir / f"{safe}.{token}.npy"
        n_rows, problem = npy_problem(data_path, self.row_shape, self.dtype)
        if problem:
            repair_notice(data_path, problem)
            return None
        index = read_index(data_path.with_suffix(".csv"), n_rows)
        return None if index is None else GroupIndex(name, index, data_path)

    def write_group(self, name: str, keys: list, records: Iterable) -> list[dict]:
        """Write a group's rows and index under a fresh token, then switch the pointer.

        Parameters
        ----------
        name : str
            Group name (e.g. "training").
        keys : list
            The group's keys, in row order.
        records : iterable of (np.ndarray, dict)
            One (values of ``row_shape``, META_COLUMNS dict) per key, in the same order,
            produced lazily so that memory stays bounded.

        Returns
        -------
        list of dict
            The metas written, in row order.
        """
        safe = _safe_group(name)
        previous = self._live_token(safe)
        token = uuid.uuid4().hex[:12]
        data_path = self.groups_dir / f"{safe}.{token}.npy"
        tmp = data_path.with_name(data_path.name + ".tmp")
        n = len(keys)
        shape = (n, *self.row_shape)
        offset = np.lib.format.open_memmap(tmp, mode="w+", dtype=self.dtype, shape=shape).offset
        row_bytes = int(np.prod(self.row_shape)) * self.dtype.itemsize
        metas = []
        with open(tmp, "r+b") as f:  # plain writes: rows never stay resident in this process
            for i, (values, meta) in enumerate(records):
                f.seek(offset + i * row_bytes)
                f.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
                metas.append(meta)
            f.flush()
            os.fsync(f.fileno())
        if len(metas) != n:
            raise ValueError(f"group {name!r}: {len(metas)} records for {n} keys")
        os.replace(tmp, data_path)
        table = pd.DataFrame(
            [{k: m.get(k) for k in META_COLUMNS} for m in metas], columns=list(META_COLUMNS)
        )
        table.insert(0, "row", np.arange(n))
        table.insert(0, "kind", [key_kind(k) for k in keys])
        table.insert(0, "key", [str(k) for k in keys])
        write_text_atomic(data_path.with_suffix(".csv"), table.to_csv(index=False), durable=True)
        write_text_atomic(self.groups_dir / f"{safe}.current", token, durable=True)
        self._remove_superseded(safe, keep=token, previous=previous)
        return metas

    def _live_token(self, safe: str) -> str | None:
        """The token the group's pointer names now, if any."""
        try:
            token = (self.groups_dir / f"{safe}.current").read_text("utf-8").strip()
        except (OSError, ValueError):
            return None
        return token if _TOKEN.fullmatch(token) else None

    def _remove_superseded(self, safe: str, *, keep: str, previous: str | None) -> None:
        """Remove the files of the token the pointer left (``previous``) and stale leftovers
        of other tokens; files another process is writing now are kept."""
        for old in self.groups_dir.glob(f"{safe}.*"):
            # <group>.<token>.npy or .csv, maybe with a .tmp tail; never another group's files
            token, _, rest = old.name[len(safe) + 1 :].partition(".")
            if token == keep or not _TOKEN.fullmatch(token) or rest[:3] not in ("npy", "csv"):
                continue
            if token == previous or is_stale(old):
                with contextlib.suppress(OSError):
                    os.unlink(old)


def _npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of an open ``.npy`` stream."""
    fmt = np.lib.format
    major = fmt.read_magic(f)[0]
    read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    return shape, dtype


def _safe_group(name: str) -> str:
    """Group name as a file-name stem (no dots, so ``<group>.*`` globs never overlap)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(name))[:100] or "_"
