"""Helpers for multi-process training with ``torch.distributed`` (DDP), on one node or many.

Two ways in:

- ``torchrun --nproc_per_node N ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them (multi-node works the
  same way with ``--nnodes`` and a rendezvous endpoint; checkpoints then need a shared disk).
- :func:`spawn` starts ``world_size`` local processes on a free localhost port (used by tests and
  notebooks), runs ``fn(rank, *args)`` in each and tears the process group down.

Backend: NCCL when CUDA is available, gloo otherwise. Rank 0 alone logs and writes files:
check :func:`is_main_process` before saving.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from harness.errors import ParameterError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: global ``rank``, ``world_size`` and node-local ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def default_backend() -> str:
    """ "nccl" when CUDA is available, else "gloo"."""
    return "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"


def init_distributed(*, backend: str | None = None) -> DistInfo:
    """Join (or reuse) the default process group from torchrun's environment variables.

    Raises
    ------
    ParameterError
        If no process group exists and ``WORLD_SIZE``/``RANK`` are not set.
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        raise ParameterError(
            "ddp=True needs a process group: launch with `torchrun --nproc_per_node N ...` "
            "(sets RANK and WORLD_SIZE) or use harness.training.distributed.spawn()."
        )
    dist.init_process_group(backend=backend or default_backend())
    info = current()
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    return info


def current() -> DistInfo:
    """The DistInfo of this process (rank 0 of 1 when no process group is running)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local)


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a running process group."""
    return current().is_main


def broadcast_object(obj, *, src: int = 0):
    """Return rank ``src``'s ``obj`` on every rank (identity without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def broadcast_module(module: torch.nn.Module, *, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers (e.g. batch-norm statistics) to every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=src)


def mean_across_ranks(value: float) -> float:
    """Average a python float over all ranks (identity without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn_entry(rank: int, fn: Callable, world_size: int, port: int, backend: str, args: tuple):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, *, world_size: int, args: tuple = (), backend: str = "gloo") -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` fresh local processes joined in a process group.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function; results go through files or queues passed in args.
    world_size : int
        Number of processes.
    args : tuple
        Extra positional arguments for ``fn``.
    backend : str
        "gloo" (CPU, default) or "nccl" (one GPU per process).
    """
    if world_size < 1:
        raise ParameterError(f"world_size must be >= 1, got {world_size}.")
    mp.spawn(
        _spawn_entry,
        args=(fn, world_size, free_port(), backend, tuple(args)),
        nprocs=world_size,
        join=True,
    )
