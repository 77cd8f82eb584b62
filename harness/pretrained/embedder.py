"""A pretrained network loaded once and run on patches in batches, on CPU or GPU.

:class:`Embedder` turns patches (n, 187, 96) into every layer the source offers, per patch,
as float32 numpy arrays. The network comes from :data:`harness.pretrained.sources.LOADER`
(the PyTorch port, its weights read from the installed checkpoint and cached as a torch state
dict keyed by the checkpoint's sha256); no TensorFlow is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.pretrained.patches import cut_patches
from harness.pretrained.sources import LOADER, PretrainedSource
from harness.registry import load_target

#: Patches per forward pass: a 30 s clip is 9 patches; 64 patches keep CPU memory small.
BATCH_PATCHES = 64


def torch_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; any other value as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """One source's network in eval mode.

    Parameters
    ----------
    source : PretrainedSource
    cache_dir : Path
        Where the converted weights are cached (``<cache_dir>/musicnn/...``).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    batch_patches : int
        Patches per forward pass.
    """

    def __init__(
        self,
        source: PretrainedSource,
        *,
        cache_dir: Path,
        device: str = "auto",
        batch_patches: int = BATCH_PATCHES,
    ) -> None:
        self.source = source
        self.device = torch_device(device)
        self.batch_patches = batch_patches
        load = load_target(LOADER)
        self.network = load(source.checkpoint, cache_dir=Path(cache_dir)).to(self.device)
        self.weights_digest = str(getattr(self.network, "weights_sha256", ""))

    def units(self, spec: np.ndarray) -> np.ndarray:
        """The 3 s patches of one clip's musicnn spectrogram (n_mels, n_frames): (n, 187,
        n_mels)."""
        return cut_patches(spec)

    def embed(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer of ``source.layers`` for each patch.

        Parameters
        ----------
        patches : np.ndarray, shape (n, 187, n_mels)
            float32 (or float16) musicnn input.

        Returns
        -------
        dict
            layer -> float32 array (n, dim): ``taggram`` the tag probabilities, the others
            the named activations.
        """
        import torch

        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in self.source.layers}
        with torch.inference_mode():
            for start in range(0, len(patches), self.batch_patches):
                batch = np.asarray(patches[start : start + self.batch_patches], np.float32)
                out = self.network(torch.from_numpy(batch).to(self.device))
                for layer in self.source.layers:
                    value = out.probabilities if layer == "taggram" else out.embeddings[layer]
                    parts[layer].append(value.reshape(len(batch), -1).float().cpu().numpy())
        width = {layer: 0 for layer in self.source.layers}
        return {
            layer: np.concatenate(chunks) if chunks else np.zeros((0, width[layer]), np.float32)
            for layer, chunks in parts.items()
        }


def make_embedder(source: PretrainedSource, *, cache_dir: Path, device: str = "auto"):
    """The embedder of ``source``: :class:`Embedder` (musicnn patches) or, for an ``hf:``
    source, :class:`harness.pretrained.hf.HFEmbedder` (waveform windows). Both offer
    ``source``, ``device``, ``weights_digest``, ``units(x)`` and ``embed(units)``."""
    if source.kind == "waveform":
        from harness.pretrained.hf import HFEmbedder

        return HFEmbedder(source, device=torch_device(device))
    return Embedder(source, cache_dir=cache_dir, device=device)
