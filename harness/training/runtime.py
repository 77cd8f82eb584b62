"""The one rule for where and how training and inference run: device, mixed precision, torch
threads and the per-epoch seeds of python, numpy and torch.

:meth:`~harness.training.estimator.NeuralClassifier.fit` and its inference methods both go
through :func:`setup`, so a model is evaluated on the device and with the precision it was
trained with.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from harness.training import distributed as hdist

# seed = random_state * SEED_STRIDE + epoch: a prime stride keeps the seeds of nearby
# random_states and epochs apart
SEED_STRIDE = 100_003


@dataclass(frozen=True)
class Runtime:
    """Where a fit or a prediction runs.

    Attributes
    ----------
    device : torch.device
        The device the module and its batches live on.
    use_amp : bool
        Mixed precision: autocast to :func:`amp_dtype` (float16 with a GradScaler when training
        on CUDA, bfloat16 on a CPU).
    info : DistInfo
        This process's rank, world size and local rank (rank 0 of 1 without DDP).
    """

    device: torch.device
    use_amp: bool
    info: hdist.DistInfo


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """torch's thread count set to ``n`` inside, and restored after: an estimator's
    ``num_threads`` holds for its own fit and predictions, not for whatever this process runs
    next. None or 0 leaves torch's setting alone."""
    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(name: str, *, local_rank: int | None = None) -> torch.device:
    """The device a setting names.

    Parameters
    ----------
    name : str
        "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:1", ...
    local_rank : int or None
        Under DDP, this process's node-local rank: a CUDA device becomes ``cuda:local_rank``
        (one GPU per process). None: the device as named.

    Returns
    -------
    torch.device
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and local_rank is not None:
        device = torch.device("cuda", local_rank)
    return device


def cpu_has_fast_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX tiles).

    Where it does, oneDNN's bfloat16 convolutions beat float32 ones: on one core the compact
    CRNN, CNN and short-chunk CNN trained 1.48x, 1.52x and 1.59x the chunks per second
    (``benchmarks/training.py --presets compact --threads 1 --amp auto,false``). Without AMX,
    bfloat16 is emulated and slower.
    """
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe())


def resolve_amp(amp, device: torch.device) -> bool:
    """Whether to use mixed precision: ``amp="auto"`` means on CUDA, and on a CPU with AMX
    (:func:`cpu_has_fast_bfloat16`); otherwise ``bool(amp)``."""
    if amp != "auto":
        return bool(amp)
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bfloat16())


def amp_dtype(device: torch.device) -> torch.dtype:
    """Autocast's type on ``device``: float16 on CUDA (with a GradScaler), bfloat16 elsewhere
    (float32's range, so no loss scaling)."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def autocast(device: torch.device, enabled: bool) -> AbstractContextManager:
    """The mixed-precision context of a forward pass on ``device`` (a no-op when disabled)."""
    return torch.autocast(device.type, dtype=amp_dtype(device)) if enabled else nullcontext()


def grad_scaler(device: torch.device, use_amp: bool) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for float16 (bfloat16 gradients do not underflow)."""
    enabled = use_amp and amp_dtype(device) == torch.float16
    return torch.amp.GradScaler(device.type, enabled=enabled)


def setup(*, device: str, amp, ddp: bool = False) -> Runtime:
    """Join the DDP process group (``ddp=True``), resolve device and AMP (torch's threads:
    :func:`threads`).

    Parameters
    ----------
    device, amp, ddp
        The estimator settings of the same names.

    Returns
    -------
    Runtime
    """
    info = hdist.init_distributed() if ddp else hdist.DistInfo()
    resolved = resolve_device(device, local_rank=info.local_rank if ddp else None)
    return Runtime(device=resolved, use_amp=resolve_amp(amp, resolved), info=info)


def seed_everything(random_state: int, epoch: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch for one epoch.

    The seed is ``random_state * SEED_STRIDE + epoch`` (numpy's taken modulo 2**32), so every
    epoch draws afresh and a resumed run re-seeds exactly as an uninterrupted one.
    """
    seed = int(random_state) * SEED_STRIDE + epoch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
