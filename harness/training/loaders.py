"""The DataLoaders of the training loop: random training crops and evenly spaced evaluation
chunks of log-mel arrays (see :mod:`harness.training.chunks`).

Log-mels held in the device's memory (a :class:`~harness.training.resident.DeviceArray`) are
cut there instead, with the same batches (:mod:`harness.training.resident`).

Shuffling is seeded per epoch from ``random_state`` (:meth:`TrainLoader.set_epoch`), and crops
are a function of (seed, epoch, clip), so the batches of an epoch do not depend on what ran
before it: a resumed run sees the batches of an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from harness.errors import ParameterError
from harness.training.chunks import ArraySource, EvalChunks, TrainChunks, worker_init
from harness.training.distributed import DistInfo
from harness.training.resident import DeviceArray, ResidentEvalBatches, ResidentTrainBatches

# generator seed = random_state * SHUFFLE_STRIDE + epoch (a prime, apart from the global seeds')
SHUFFLE_STRIDE = 7919


@dataclass(frozen=True)
class TrainLoader:
    """A training DataLoader and the parts that are re-seeded every epoch.

    Attributes
    ----------
    loader : DataLoader or ResidentTrainBatches
        Yields (chunks float32 (batch, n_mels, chunk_frames), targets (batch,) or (batch, C)).
    dataset : TrainChunks
        One random crop per clip and epoch.
    sampler : DistributedSampler or None
        This rank's shard under DDP (world size > 1); None shuffles with ``generator``.
    generator : torch.Generator
        The DataLoader's shuffling generator.
    random_state : int
        The estimator's seed.
    """

    loader: DataLoader | ResidentTrainBatches
    dataset: TrainChunks
    sampler: DistributedSampler | None
    generator: torch.Generator
    random_state: int

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops and the order of epoch ``epoch`` (1-based)."""
        self.dataset.set_epoch(epoch)
        self.generator.manual_seed(self.random_state * SHUFFLE_STRIDE + epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)


def train_loader(
    source: ArraySource | DeviceArray,
    targets: np.ndarray,
    *,
    chunk_frames: int,
    batch_size: int,
    num_workers: int,
    random_state: int,
    info: DistInfo | None = None,
) -> TrainLoader:
    """The training DataLoader: one random crop per clip, shuffled, sharded under DDP.

    Parameters
    ----------
    source : ArraySource or DeviceArray
        Log-mels of shape (n_clips, n_mels, frames); a DeviceArray's batches are cut on its
        device, with the same crops and order.
    targets : np.ndarray
        int64 (n_clips,) class indices or float32 (n_clips, C) multi-hot.
    chunk_frames : int
        Frames per crop.
    batch_size : int
        Crops per batch (per process under DDP). The last incomplete batch is dropped when a
        process has more than one batch of clips.
    num_workers : int
        DataLoader worker processes.
    random_state : int
        Seed of crops and order.
    info : DistInfo or None
        This process's place in the DDP group (None: a single process).

    Returns
    -------
    TrainLoader
        Call its ``set_epoch(epoch)`` before each epoch.
    """
    info = info or DistInfo()
    dataset = TrainChunks(source, targets, chunk_frames=chunk_frames, seed=random_state)
    generator = torch.Generator()
    sampler = None
    if info.world_size > 1:
        sampler = DistributedSampler(
            dataset,
            num_replicas=info.world_size,
            rank=info.rank,
            shuffle=True,
            seed=int(random_state),
        )
    n_local = len(dataset) // info.world_size
    if isinstance(source, DeviceArray):
        batches = ResidentTrainBatches(
            source,
            dataset,
            batch_size=batch_size,
            drop_last=n_local > batch_size,
            generator=generator,
            sampler=sampler,
        )
        return TrainLoader(batches, dataset, sampler, generator, int(random_state))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=n_local > batch_size,
        num_workers=num_workers,
        worker_init_fn=worker_init,
        generator=generator,
        persistent_workers=False,
        pin_memory=False,
    )
    return TrainLoader(loader, dataset, sampler, generator, int(random_state))


def eval_loader(
    X,
    *,
    chunk_frames: int,
    n_eval_chunks: int,
    batch_size: int,
    num_workers: int,
    n_mels: int | None = None,
) -> DataLoader:
    """The evaluation DataLoader: ``n_eval_chunks`` evenly spaced chunks per clip, in order.

    Parameters
    ----------
    X : array-like, ArraySource or DeviceArray
        Log-mels of shape (n_clips, n_mels, frames); a DeviceArray's chunks are cut on its
        device.
    chunk_frames, n_eval_chunks : int
        Frames per chunk and chunks per clip.
    batch_size : int
        The training batch size; a batch holds ``batch_size // n_eval_chunks * 2`` clips (at
        least one), as many chunks as two training batches.
    num_workers : int
        DataLoader worker processes.
    n_mels : int or None
        The model's mel bands; a different ``X`` is refused (None: no check).

    Returns
    -------
    DataLoader or ResidentEvalBatches
        Yields float32 (clips, n_eval_chunks, n_mels, chunk_frames).
    """
    source = X if isinstance(X, (ArraySource, DeviceArray)) else ArraySource(X)
    if n_mels is not None and source.shape[1] != n_mels:
        raise ParameterError(
            f"Input has {source.shape[1]} mel bands; the model was trained on {n_mels}."
        )
    per_batch = max(1, batch_size // max(1, n_eval_chunks) * 2)
    if isinstance(source, DeviceArray):
        return ResidentEvalBatches(
            source, chunk_frames=chunk_frames, n_chunks=n_eval_chunks, clips_per_batch=per_batch
        )
    dataset = EvalChunks(source, chunk_frames=chunk_frames, n_chunks=n_eval_chunks)
    return DataLoader(
        dataset,
        batch_size=per_batch,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=worker_init,
    )
