"""Checkpoint files of the training loop: atomic writes, weights-only reads, CPU state copies.

A checkpoint is a dict of plain python values and tensors written with ``torch.save``; reading
it with ``weights_only=True`` never runs code from the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from harness.errors import DataError
from harness.storage import atomic_target

CHECKPOINT_NAME = "last.pt"


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to ``path`` via a temporary file and ``os.replace`` (never half-written).

    Parameters
    ----------
    obj : dict
        Plain python values and tensors only (readable with ``weights_only=True``).
    path : Path
        Destination; its folder is created when missing.
    """
    with atomic_target(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by :func:`save_atomic` onto the CPU, ``weights_only=True``.

    Raises
    ------
    DataError
        If the file cannot be read (corrupt, truncated or not a weights-only checkpoint).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which and what to do
        raise DataError(
            f"Cannot read checkpoint {path} ({type(exc).__name__}: {exc}); delete it to start over."
        ) from exc


def cpu_state(module: torch.nn.Module) -> dict:
    """A detached CPU copy of ``module.state_dict()`` (name -> tensor)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
