"""The musicnn checkpoints: found in the installed ``musicnn`` wheel, checked against their
pinned SHA-256, converted once into a torch state dict and cached.

The wheel (``pip install --no-deps musicnn==0.1.0``: its metadata asks for TensorFlow, which
the port does not need) is located through its installed files; the ``musicnn`` package is
never imported (its modules import TensorFlow). The converted weights are cached at
``<cache_dir>/musicnn/<checkpoint>-<16 hex of the .data file's sha256>.pt`` (written
atomically) and read back with ``torch.load(weights_only=True)``: tensors only, no code.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
from torch import nn

from harness.errors import DataError
from harness.storage import atomic_target, file_digest
from models.musicnn.musicnn_net import MusiCNN
from models.musicnn.tensor_bundle import read_tensor_bundle
from models.musicnn.vgg_net import MusicnnVGG

INSTALL = 'install them with "pip install --no-deps musicnn==0.1.0" (make run\'s install does this)'
DATA_FILE = ".data-00000-of-00001"
INDEX_FILE = ".index"
#: SHA-256 of each checkpoint's files in musicnn 0.1.0 (the wheel on PyPI).
CHECKPOINT_SHA256 = {
    "MSD_musicnn": {
        INDEX_FILE: "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8",
        DATA_FILE: "8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
    },
    "MTT_musicnn": {
        INDEX_FILE: "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57",
        DATA_FILE: "041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
    },
    "MSD_vgg": {
        INDEX_FILE: "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3",
        DATA_FILE: "9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc",
    },
    "MTT_vgg": {
        INDEX_FILE: "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f",
        DATA_FILE: "458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303",
    },
}
ARCHITECTURES = {
    "MSD_musicnn": MusiCNN,
    "MTT_musicnn": MusiCNN,
    "MSD_vgg": MusicnnVGG,
    "MTT_vgg": MusicnnVGG,
}


def package_dir() -> Path:
    """The installed ``musicnn`` package folder (not imported); one line when absent."""
    try:
        distribution = importlib.metadata.distribution("musicnn")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"musicnn weights not found: {INSTALL}") from None
    return Path(distribution.locate_file("musicnn"))


def checkpoint_files(checkpoint: str, *, root: Path | None = None) -> dict[str, Path]:
    """The checked files of ``checkpoint`` (file name -> path) under ``root`` (the installed
    package by default): each present and with its pinned SHA-256, or one line saying which
    is not and what to do."""
    if checkpoint not in CHECKPOINT_SHA256:
        raise DataError(
            f"unknown musicnn checkpoint {checkpoint!r}; expected one of "
            f"{', '.join(CHECKPOINT_SHA256)}"
        )
    folder = (root or package_dir()) / checkpoint
    files = {}
    for name, expected in CHECKPOINT_SHA256[checkpoint].items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: musicnn checkpoint file missing; {INSTALL}")
        found = file_digest(path, "sha256")
        if found != expected:
            raise DataError(
                f"{path}: sha256 {found[:16]}..., expected {expected[:16]}... (musicnn 0.1.0); "
                f"the checkpoint was altered: reinstall it (pip install --force-reinstall "
                "--no-deps musicnn==0.1.0)"
            )
        files[name] = path
    return files


def load_pretrained(
    checkpoint: str, *, cache_dir: Path = Path(".cache"), package: Path | None = None
) -> nn.Module:
    """The eval-mode torch module of a musicnn checkpoint (``MSD_musicnn``, ``MTT_musicnn``,
    ``MSD_vgg``, ``MTT_vgg``), from the cached state dict or converted now.

    Parameters
    ----------
    cache_dir : Path
        Where the converted state dict is cached (``<cache_dir>/musicnn/``).
    package : Path, optional
        A folder holding the checkpoint folders (default: the installed wheel's).

    The module's ``weights_sha256`` attribute is the checkpoint's ``.data`` file's SHA-256.
    """
    files = checkpoint_files(checkpoint, root=package)
    digest = CHECKPOINT_SHA256[checkpoint][DATA_FILE]
    network = ARCHITECTURES[checkpoint]()
    cached = Path(cache_dir) / "musicnn" / f"{checkpoint}-{digest[:16]}.pt"
    state = _read_cached(cached)
    if state is None:
        prefix = str(files[INDEX_FILE]).removesuffix(INDEX_FILE)  # the checkpoint's prefix is ""
        network.load_checkpoint(read_tensor_bundle(prefix))
        with atomic_target(cached) as tmp:
            torch.save(network.state_dict(), tmp)
    else:
        network.load_state_dict(state)
    network.weights_sha256 = digest
    return network.eval()


def _read_cached(path: Path) -> dict | None:
    """The cached state dict, or None when absent or unreadable (then it is converted again)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt from the checkpoint
        path.unlink(missing_ok=True)
        return None
