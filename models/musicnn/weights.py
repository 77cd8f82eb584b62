"""The musicnn checkpoints: found in the installed ``musicnn`` wheel, checked against their
pinned SHA-256, converted once into a torch state dict and cached.

The wheel (``pip install --no-deps musicnn==0.1.0``: its metadata asks for TensorFlow, which
the port does not need) is located through its installed files; the ``musicnn`` package is
never imported (its modules import TensorFlow). Each checkpoint is a folder of the package
holding ``.index`` and ``.data-00000-of-00001``, read by
:mod:`models.musicnn.tensor_bundle` and mapped onto the port by
:mod:`models.musicnn.conversion`. The converted weights are cached at
``<cache_dir>/musicnn/<checkpoint>-<first 16 hex of the .data file's sha256>.pt`` (written
atomically: a temporary file beside it, then ``os.replace``) and read back with
``torch.load(weights_only=True)``: tensors only, no code. A cache file that does not load
into the current port (damaged, or from an older layout) is converted again.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import torch
from torch import nn

from harness.errors import DataError
from harness.storage import atomic_target, file_digest
from models.musicnn.conversion import convert_checkpoint
from models.musicnn.musicnn_net import MusiCNN
from models.musicnn.tensor_bundle import DATA_SUFFIX, INDEX_SUFFIX, read_tensor_bundle
from models.musicnn.vgg_net import MusicnnVGG

PIP_INSTALL = "pip install --no-deps musicnn==0.1.0"
INSTALL = f'install them with "{PIP_INSTALL}" (make run\'s install step does this)'
REINSTALL = "pip install --force-reinstall --no-deps musicnn==0.1.0"
#: SHA-256 of each checkpoint's files in musicnn 0.1.0 (the wheel on PyPI).
CHECKPOINT_SHA256: dict[str, dict[str, str]] = {
    "MSD_musicnn": {
        INDEX_SUFFIX: "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8",
        DATA_SUFFIX: "8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
    },
    "MTT_musicnn": {
        INDEX_SUFFIX: "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57",
        DATA_SUFFIX: "041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
    },
    "MSD_vgg": {
        INDEX_SUFFIX: "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3",
        DATA_SUFFIX: "9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc",
    },
    "MTT_vgg": {
        INDEX_SUFFIX: "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f",
        DATA_SUFFIX: "458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303",
    },
}
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "MSD_musicnn": MusiCNN,
    "MTT_musicnn": MusiCNN,
    "MSD_vgg": MusicnnVGG,
    "MTT_vgg": MusicnnVGG,
}
CHECKPOINTS: tuple[str, ...] = tuple(CHECKPOINT_SHA256)


def package_dir() -> Path:
    """The installed ``musicnn`` package's folder, found without importing it.

    Raises
    ------
    DataError
        The wheel is not installed: one line saying how to install it.
    """
    try:
        folder = Path(importlib.metadata.distribution("musicnn").locate_file("musicnn"))
    except importlib.metadata.PackageNotFoundError:
        folder = None
    if folder is None or not folder.is_dir():
        # find_spec of a top-level name locates it without running its __init__
        spec = importlib.util.find_spec("musicnn")
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise DataError(f"musicnn weights not found: {INSTALL}")
        folder = Path(locations[0])
    return folder


def checkpoint_files(checkpoint: str, *, root: Path | None = None) -> dict[str, Path]:
    """The checked files of ``checkpoint``.

    Parameters
    ----------
    checkpoint : str
        ``MSD_musicnn``, ``MTT_musicnn``, ``MSD_vgg`` or ``MTT_vgg``.
    root : Path, optional
        The folder holding the checkpoint folders (default: the installed package).

    Returns
    -------
    dict
        ``".index"`` and ``".data-00000-of-00001"`` -> path, each present with its pinned
        SHA-256.

    Raises
    ------
    DataError
        An unknown name, a missing file (what to install) or an altered one (its path, the
        expected and found digests, how to reinstall).
    """
    if checkpoint not in CHECKPOINT_SHA256:
        raise DataError(
            f"unknown musicnn checkpoint {checkpoint!r}; expected one of {', '.join(CHECKPOINTS)}"
        )
    folder = Path(root if root is not None else package_dir()) / checkpoint
    files = {}
    for suffix, expected in CHECKPOINT_SHA256[checkpoint].items():
        path = folder / suffix
        if not path.is_file():
            raise DataError(f"musicnn weights not found: {path} is missing; {INSTALL}")
        found = file_digest(path, "sha256")
        if found != expected:
            raise DataError(
                f"{path}: sha256 {found}, expected {expected} (musicnn 0.1.0): the checkpoint "
                f'was altered or is another version; reinstall it with "{REINSTALL}"'
            )
        files[suffix] = path
    return files


def cache_path(checkpoint: str, cache_dir: Path) -> Path:
    """Where the converted state dict of ``checkpoint`` is cached under ``cache_dir``."""
    digest = CHECKPOINT_SHA256[checkpoint][DATA_SUFFIX]
    return Path(cache_dir) / "musicnn" / f"{checkpoint}-{digest[:16]}.pt"


def load_pretrained(
    checkpoint: str, *, cache_dir: Path = Path(".cache"), package_dir: Path | None = None
) -> nn.Module:
    """The eval-mode torch module of a musicnn checkpoint, from the cache or converted now.

    Parameters
    ----------
    checkpoint : str
        ``MSD_musicnn``, ``MTT_musicnn`` (:class:`~models.musicnn.musicnn_net.MusiCNN`),
        ``MSD_vgg`` or ``MTT_vgg`` (:class:`~models.musicnn.vgg_net.MusicnnVGG`).
    cache_dir : Path
        Where the converted state dict is cached (``<cache_dir>/musicnn/``).
    package_dir : Path, optional
        A folder holding the checkpoint folders (default: the installed wheel's).

    Returns
    -------
    nn.Module
        In eval mode, on the CPU; its ``weights_sha256`` attribute is the checkpoint's
        ``.data`` file's SHA-256. The checkpoint's files are checked on every call.
    """
    files = checkpoint_files(checkpoint, root=package_dir)
    network = ARCHITECTURES[checkpoint]()
    cached = cache_path(checkpoint, cache_dir)
    if not _load_cached(network, cached):
        prefix = files[INDEX_SUFFIX].parent
        tensors = read_tensor_bundle(prefix)
        network.load_state_dict(convert_checkpoint(network, tensors, source=str(prefix)))
        with atomic_target(cached) as tmp:
            torch.save(network.state_dict(), tmp)
    network.weights_sha256 = CHECKPOINT_SHA256[checkpoint][DATA_SUFFIX]
    return network.eval()


def _load_cached(network: nn.Module, path: Path) -> bool:
    """Load the cached state dict into ``network``; False when absent or not loadable."""
    if not path.is_file():
        return False
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # noqa: BLE001 - a damaged or stale cache file is converted again
        path.unlink(missing_ok=True)
        return False
    return True
