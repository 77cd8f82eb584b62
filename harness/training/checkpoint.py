"""Checkpoint files of the training loop: atomic writes, weights-only reads, CPU state copies.

A checkpoint is a dict of plain python values and tensors written with ``torch.save``; reading
it with ``weights_only=True`` never runs code from the file.
"""

from __future__ import annotations

import pickle
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
        One line if the file cannot be read: a pickle of other objects than tensors and plain
        values (refused by ``weights_only``, nothing in it ran), corrupt or truncated.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message spans many lines: say it in one
        raise DataError(
            f"Cannot read {path}: not a plain weights file (it pickles other objects than "
            "tensors, which would run code; nothing in it was loaded); delete it or replace "
            "it with one written by fma-harness."
        ) from None
    except Exception as exc:  # a corrupt or foreign file: say which and what to do
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(
            f"Cannot read {path} ({type(exc).__name__}: {first}); delete it or replace it "
            "with one written by fma-harness."
        ) from None


def cpu_state(module: torch.nn.Module) -> dict:
    """A detached CPU copy of ``module.state_dict()`` (name -> tensor)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
