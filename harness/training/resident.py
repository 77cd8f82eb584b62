"""Log-mels held in the training device's memory, with crops and evaluation chunks cut there.

On a GPU, the DataLoader path limits training: it reads the memmap and converts float16 to
float32 on the CPU, then collates and copies every batch to the device. ``benchmarks/training.py``
measured real/in-memory throughput of 0.66-0.87 on an H100. When the log-mels fit in the device's
memory, they are copied there once, in their stored dtype (float16 for the cache). Each batch is
then one gather on the device.

The batches are the DataLoader path's: the same crops
(:func:`~harness.training.chunks.crop_offsets`), the same order (the shuffling generator is read as
the DataLoader reads it), and the same float32 values. A run gives the same batches whichever
path it takes; ``tests/training/test_resident.py`` compares the two.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from harness.errors import ParameterError
from harness.training.chunks import ArraySource, RowSubset, eval_offsets

SETTINGS = ("auto", True, False)
# "auto" keeps the log-mels on a GPU when they take at most this share of its free memory: the
# rest is left to the model's activations, the optimiser and cuDNN's workspaces
FREE_MEMORY_SHARE = 0.5
_share = FREE_MEMORY_SHARE  # this process's share: lanes training side by side split the GPU
COPY_SLICE_BYTES = 256 * 2**20  # the host-to-device copy reads the source in slices of this size


class DeviceArray:
    """Log-mels of shape (n_clips, n_mels, frames) held in a torch device's memory.

    Attributes
    ----------
    tensor : torch.Tensor
        The log-mels in their stored dtype (float16 or float32), on the device.
    shape : tuple of int
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        if tensor.ndim != 3:
            raise ParameterError(f"Log-mel tensor has shape {tuple(tensor.shape)}; expected 3-D.")
        self.tensor = tensor
        self.shape = tuple(int(s) for s in tensor.shape)

    @property
    def device(self) -> torch.device:
        return self.tensor.device


def stored_bytes(source) -> int:
    """Bytes that ``source`` (an ArraySource or array-like) takes on a device."""
    data = source.data if isinstance(source, ArraySource) else source
    return math.prod(int(s) for s in data.shape) * _stored_dtype(data).itemsize


def _stored_dtype(data) -> np.dtype:
    """float16 and float32 stay as they are on the device; anything else becomes float32."""
    dtype = np.dtype(getattr(data, "dtype", np.float32))
    return dtype if dtype in (np.float16, np.float32) else np.dtype(np.float32)


def wanted(setting, device: torch.device, *, nbytes: int) -> bool:
    """Whether ``nbytes`` of log-mels go to ``device``'s memory.

    Parameters
    ----------
    setting : {"auto", True, False}
        ``data_on_device``: "auto" on a CUDA device when ``nbytes`` is at most
        ``FREE_MEMORY_SHARE`` of its free memory (see :func:`set_free_memory_share`); True on
        any device (a CPU too); False never.
    device : torch.device
    nbytes : int
        The log-mels' size in their stored dtype (:func:`stored_bytes`).
    """
    if setting not in SETTINGS:
        raise ParameterError(f"data_on_device={setting!r}; expected 'auto', true or false.")
    if setting != "auto":
        return bool(setting)
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= _share * free


def set_free_memory_share(share: float) -> None:
    """The share of a GPU's free memory that "auto" lets this process's log-mels take
    (``FREE_MEMORY_SHARE`` unless set; each of N processes training side by side on one GPU
    takes 1/N of it, as their copies start at the same time)."""
    global _share
    if not 0 < share <= 1:
        raise ParameterError(f"free memory share {share}; expected a fraction in (0, 1].")
    _share = share


def _rows(data, start: int, stop: int) -> np.ndarray:
    if isinstance(data, RowSubset):  # one fancy read of the memmap, not one read per row
        return np.asarray(data.data[data.rows[start:stop]])
    return np.asarray(data[start:stop])


def to_device(source, device: torch.device) -> DeviceArray:
    """Copy log-mels (ArraySource or array-like, (n, n_mels, frames)) into ``device``'s memory.

    float16 and float32 stay as stored; other dtypes become float32. The source is read in
    slices of about ``COPY_SLICE_BYTES``, so a memmap cache is never held whole in host memory.
    """
    if isinstance(source, DeviceArray):
        return source if source.device == device else DeviceArray(source.tensor.to(device))
    data = source.data if isinstance(source, ArraySource) else source
    shape = tuple(int(s) for s in data.shape)
    dtype = _stored_dtype(data)
    torch_dtype = torch.float16 if dtype == np.float16 else torch.float32
    out = torch.empty(shape, dtype=torch_dtype, device=device)
    per_slice = max(1, COPY_SLICE_BYTES // max(1, math.prod(shape[1:]) * dtype.itemsize))
    for start in range(0, shape[0], per_slice):
        block = np.ascontiguousarray(_rows(data, start, start + per_slice), dtype=dtype)
        if not block.flags.writeable:  # a read-only memmap's rows: torch wants its own copy
            block = block.copy()
        out[start : start + len(block)].copy_(torch.from_numpy(block))
    return DeviceArray(out)


def place(sources: list, *, setting, device: torch.device) -> list:
    """Log-mels moved to ``device``'s memory together or not at all.

    Parameters
    ----------
    sources : list
        Array-likes, ArraySources or DeviceArrays of shape (n, n_mels, frames); an array-like
        is wrapped in an ArraySource first, which refuses anything but a 3-D array with one
        clear line.
    setting : {"auto", True, False}
        ``data_on_device``, judged by :func:`wanted` on the total size of those not yet on a
        device (e.g. a training and a validation set).

    Returns
    -------
    list
        DeviceArrays on ``device`` when wanted, else ArraySources; a DeviceArray always moves
        to ``device``.
    """
    sources = [s if isinstance(s, (ArraySource, DeviceArray)) else ArraySource(s) for s in sources]
    nbytes = sum(stored_bytes(s) for s in sources if not isinstance(s, DeviceArray))
    move = wanted(setting, device, nbytes=nbytes)
    return [to_device(s, device) if move or isinstance(s, DeviceArray) else s for s in sources]


def _cut(data: torch.Tensor, rows: torch.Tensor, starts: torch.Tensor, span: torch.Tensor):
    """Frames ``starts[i] + span`` of clip ``rows[i]`` (``span``: ``arange(chunk_frames)`` on
    the data's device): float32 (b, n_mels, chunk_frames). Frame indices wrap around, which
    tiles a clip shorter than a chunk as :func:`~harness.training.chunks.fit_length` does (its
    start is then 0)."""
    frames = data.shape[2]
    time = (starts[:, None] + span) % frames
    clips = data[rows]
    return clips.gather(2, time[:, None, :].expand(-1, data.shape[1], -1)).float()


class ResidentTrainBatches:
    """The training batches of :func:`harness.training.loaders.train_loader`, cut on the device.

    Iterating yields (chunks float32 (batch, n_mels, chunk_frames), targets (batch,) int64 or
    (batch, C) float32), both on the data's device, in the DataLoader path's order.

    Parameters
    ----------
    data : DeviceArray
        The training log-mels.
    dataset : TrainChunks
        Holds the targets, ``chunk_frames`` and the epoch's crop starts (``set_epoch`` draws
        them).
    batch_size : int
    drop_last : bool
    generator : torch.Generator
        The shuffling generator, re-seeded every epoch by the TrainLoader.
    sampler : DistributedSampler or None
        This rank's shard under DDP (then the generator is unused).
    """

    def __init__(
        self,
        data: DeviceArray,
        dataset,
        *,
        batch_size: int,
        drop_last: bool,
        generator: torch.Generator,
        sampler=None,
    ) -> None:
        self.data = data
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = generator
        self.sampler = sampler
        self.targets = torch.as_tensor(np.asarray(dataset.targets)).to(data.device)

    def _n_items(self) -> int:
        return len(self.sampler) if self.sampler is not None else len(self.dataset)

    def __len__(self) -> int:
        n = self._n_items()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> torch.Tensor:
        if self.sampler is not None:
            return torch.as_tensor(list(self.sampler), dtype=torch.int64)
        # a DataLoader draws its workers' base seed from the generator before the sampler's
        # permutation: drawing it here too keeps the order the same
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return torch.randperm(len(self.dataset), generator=self.generator)

    def __iter__(self):
        ds, device = self.dataset, self.data.device
        starts = torch.as_tensor(ds.starts, dtype=torch.int64, device=device)
        order = self._order().to(device)
        span = torch.arange(ds.chunk_frames, device=device)
        for b in range(len(self)):
            rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield _cut(self.data.tensor, rows, starts[rows], span), self.targets[rows]


class ResidentEvalBatches:
    """The evaluation batches of :func:`harness.training.loaders.eval_loader`, cut on the device:
    float32 (clips, n_chunks, n_mels, chunk_frames), ``clips_per_batch`` clips at a time, in
    order."""

    def __init__(
        self, data: DeviceArray, *, chunk_frames: int, n_chunks: int, clips_per_batch: int
    ) -> None:
        self.data = data
        self.chunk_frames = chunk_frames
        self.clips_per_batch = clips_per_batch
        frames = data.shape[2]
        offsets = eval_offsets(frames, chunk_frames=chunk_frames, n_chunks=n_chunks)
        span = torch.arange(chunk_frames)
        self.time = ((torch.as_tensor(offsets)[:, None] + span) % frames).to(data.device)

    def __len__(self) -> int:
        return -(-self.data.shape[0] // self.clips_per_batch)

    def __iter__(self):
        for start in range(0, self.data.shape[0], self.clips_per_batch):
            clips = self.data.tensor[start : start + self.clips_per_batch]  # (b, n_mels, frames)
            chunks = clips[:, :, self.time].permute(0, 2, 1, 3)  # (b, k, n_mels, chunk)
            yield chunks.contiguous().float()  # laid out as the DataLoader collates them
