"""Chunk datasets for the neural training loop: random crops for training, evenly spaced chunks
for evaluation, read lazily from any array-like (a float16 ``np.memmap`` cache included).

Randomness is a pure function of ``(seed, epoch, index)``: a crop never depends on which worker
reads it or on what was read before, so a run is repeatable with any ``num_workers`` and a
resumed run sees the same crops as an uninterrupted one.
"""

from __future__ import annotations

import mmap
import random

import numpy as np
import torch
from torch.utils.data import Dataset

from harness.errors import ParameterError


class ArraySource:
    """Picklable view of an array-like of shape (n, n_mels, frames).

    A ``np.memmap`` backed by a file is pickled as its file name, dtype, shape and offset and
    reopened read-only in the worker, so DataLoader workers never copy the whole cache.
    """

    def __init__(self, data) -> None:
        if getattr(data, "ndim", None) != 3:
            raise ParameterError(
                f"Log-mel input has shape {getattr(data, 'shape', None)}; expected a 3-D array "
                "(n_clips, n_mels, frames)."
            )
        self.data = data
        self.shape = tuple(int(s) for s in data.shape)

    def __getstate__(self) -> dict:
        spec = _memmap_spec(self.data)
        if spec is not None:
            return {"memmap": spec, "shape": self.shape}
        return {"data": np.asarray(self.data), "shape": self.shape}

    def __setstate__(self, state: dict) -> None:
        self.shape = state["shape"]
        if "memmap" in state:
            filename, dtype, shape, offset = state["memmap"]
            self.data = np.memmap(filename, dtype=dtype, mode="r", shape=shape, offset=offset)
        else:
            self.data = state["data"]

    def read(self, index: int, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` of clip ``index`` as float32 (n_mels, stop - start)."""
        return np.asarray(self.data[index, :, start:stop], dtype=np.float32)


class RowSubset:
    """Rows ``rows`` of a 3-D array-like, without copying: ``RowSubset(cache.data, ok_rows)``
    drops failed clips from a memmap cache and is still read chunk by chunk (and pickled for
    DataLoader workers as the memmap's file plus the row numbers)."""

    def __init__(self, data, rows) -> None:
        self.data = data
        self.rows = np.asarray(rows, dtype=np.int64)
        if self.rows.ndim != 1 or (len(self.rows) and self.rows.max() >= data.shape[0]):
            raise ParameterError(f"rows must be 1-D indices below {data.shape[0]}.")
        self.shape = (len(self.rows), *tuple(data.shape[1:]))
        self.ndim = 3
        self.dtype = data.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.data[(int(self.rows[key[0]]), *key[1:])]
        return self.data[int(self.rows[key])]

    def __getstate__(self) -> dict:
        spec = _memmap_spec(self.data)
        data = {"memmap": spec} if spec else {"data": np.asarray(self.data)}
        return {**data, "rows": self.rows}

    def __setstate__(self, state: dict) -> None:
        if "memmap" in state:
            filename, dtype, shape, offset = state["memmap"]
            data = np.memmap(filename, dtype=dtype, mode="r", shape=shape, offset=offset)
        else:
            data = state["data"]
        self.__init__(data, state["rows"])


def _memmap_spec(data) -> tuple | None:
    """(filename, dtype, shape, byte offset) reopening ``data``, if a contiguous memmap view."""
    if not isinstance(data, np.memmap) or not data.flags.c_contiguous:
        return None
    root = data
    while isinstance(root, np.memmap) and not isinstance(root.base, mmap.mmap):
        root = root.base
    if not isinstance(root, np.memmap) or not getattr(root, "filename", None):
        return None
    offset = int(root.offset) + (data.ctypes.data - root.ctypes.data)
    return (str(root.filename), data.dtype.str, tuple(int(s) for s in data.shape), offset)


def fit_length(chunk: np.ndarray, *, chunk_frames: int) -> np.ndarray:
    """Tile a clip shorter than ``chunk_frames`` along time so every chunk has the same size."""
    frames = chunk.shape[-1]
    if frames >= chunk_frames:
        return chunk
    if frames == 0:
        raise ParameterError("A log-mel clip has 0 frames; drop failed clips before training.")
    reps = -(-chunk_frames // frames)
    return np.tile(chunk, (1, reps))[:, :chunk_frames]


def eval_offsets(frames: int, *, chunk_frames: int, n_chunks: int) -> list[int]:
    """Start frames of ``n_chunks`` evenly spaced chunks covering the clip end to end."""
    last = max(frames - chunk_frames, 0)
    if n_chunks <= 1:
        return [last // 2]
    return [int(round(k * last / (n_chunks - 1))) for k in range(n_chunks)]


def crop_offsets(*, seed: int, epoch: int, n_clips: int, high: int) -> np.ndarray:
    """Deterministic random starts in ``[0, high]`` of every clip in one epoch: int64 (n_clips,).

    One draw per epoch: a generator per clip cost about 30 us a clip, some 5% of a compact
    model's training step per clip on a GPU.
    """
    rng = np.random.default_rng([seed, epoch])
    return rng.integers(0, high + 1, size=n_clips)


class TrainChunks(Dataset):
    """One random crop of ``chunk_frames`` per clip and epoch.

    Items are ``(chunk float32 (n_mels, chunk_frames), target)``; call :meth:`set_epoch` before
    each epoch to draw new crops.
    """

    def __init__(self, source: ArraySource, targets: np.ndarray, *, chunk_frames: int, seed: int):
        self.source = source
        self.targets = targets
        self.chunk_frames = chunk_frames
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops of epoch ``epoch``: ``starts`` int64 (n_clips,), first frames."""
        self.epoch = epoch
        high = max(self.source.shape[2] - self.chunk_frames, 0)
        self.starts = crop_offsets(seed=self.seed, epoch=epoch, n_clips=len(self), high=high)

    def __len__(self) -> int:
        return self.source.shape[0]

    def __getitem__(self, index: int):
        start = int(self.starts[index])
        chunk = self.source.read(index, start, start + self.chunk_frames)
        return fit_length(chunk, chunk_frames=self.chunk_frames), self.targets[index]


class EvalChunks(Dataset):
    """``n_chunks`` evenly spaced chunks per clip: items (n_chunks, n_mels, chunk_frames)."""

    def __init__(self, source: ArraySource, *, chunk_frames: int, n_chunks: int) -> None:
        self.source = source
        self.chunk_frames = chunk_frames
        self.offsets = eval_offsets(source.shape[2], chunk_frames=chunk_frames, n_chunks=n_chunks)

    def __len__(self) -> int:
        return self.source.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        chunks = [
            fit_length(
                self.source.read(index, s, s + self.chunk_frames), chunk_frames=self.chunk_frames
            )
            for s in self.offsets
        ]
        return np.stack(chunks)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed numpy/python in each worker from torch's seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)


def encode_targets(y, *, task: str, classes) -> tuple[np.ndarray, list]:
    """Turn labels into targets: int64 class indices (single) or float32 multi-hot (multi).

    Parameters
    ----------
    y : array-like
        (n,) labels for ``task="single"``; (n, C) 0/1 matrix (array or DataFrame) for "multi".
    task : str
        "single" or "multi".
    classes : sequence or None
        Class names in output order; by default the sorted unique labels (single) or the
        DataFrame columns / 0..C-1 (multi).

    Returns
    -------
    targets : np.ndarray
    classes : list
    """
    if task == "single":
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ParameterError(f"y has shape {labels.shape}; task='single' expects (n,) labels.")
        found = sorted(set(labels.tolist()))
        classes = list(found if classes is None else classes)
        lookup = {c: i for i, c in enumerate(classes)}
        missing = [c for c in found if c not in lookup]
        if missing:
            raise ParameterError(f"Labels {missing[:5]} are not in classes {classes[:20]}.")
        return np.array([lookup[v] for v in labels.tolist()], dtype=np.int64), classes
    if task == "multi":
        cols = list(getattr(y, "columns", []))
        matrix = np.asarray(y, dtype=np.float32)
        if matrix.ndim != 2:
            raise ParameterError(f"y has shape {matrix.shape}; task='multi' expects (n, C) 0/1.")
        if classes is None:
            classes = cols or list(range(matrix.shape[1]))
        if len(classes) != matrix.shape[1]:
            raise ParameterError(f"y has {matrix.shape[1]} columns but {len(classes)} classes.")
        return matrix, list(classes)
    raise ParameterError(f"Unknown task '{task}'; expected 'single' or 'multi'.")
