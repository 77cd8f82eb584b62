"""Hugging Face audio models as frozen embedders: ``hf:PATH_OR_ID`` (MERT, AST, wav2vec2 style).

``PATH_OR_ID`` is a folder written by ``save_pretrained`` (``config.json``, the weights as
``model.safetensors``, ``preprocessor_config.json``), or a hub id that transformers can load
(from its local cache when offline). It is loaded with transformers' ``AutoFeatureExtractor``
and ``AutoModel``, never running code from the model's files: ``trust_remote_code=False`` (a
model that needs its repository's code, such as MERT's hub release, is refused with one line)
and ``use_safetensors=True`` (no pickled weights).

A clip's waveform, at the feature extractor's ``sampling_rate``, is cut into consecutive
windows of :data:`WINDOW_SECONDS` from its start, as musicnn cuts 3 s patches: the remainder
shorter than a window is left out (so a 29.98 s file and its 29 s cached clip give the same
windows), and a clip shorter than one window is padded with silence to one. Per window, two
layers: the last hidden state and the mean of every hidden state (input embedding included),
each averaged over time; a clip's representation is their mean over windows
(:mod:`harness.pretrained.tables`).
The optional extra ``fma-harness[hf]`` installs transformers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from harness.errors import ParameterError
from harness.pretrained.sources import PretrainedSource, hf_source, is_hf_source

#: Seconds of audio per window (a clip's representation averages its windows).
WINDOW_SECONDS = 5.0
#: Windows per forward pass.
BATCH_WINDOWS = 8


def windows(y: np.ndarray, *, sr: int, seconds: float = WINDOW_SECONDS) -> np.ndarray:
    """Consecutive windows of ``seconds`` of mono ``y``: float32 (n_windows, seconds * sr).

    The remainder shorter than a window is left out; a clip shorter than one window is
    zero-padded to one.
    """
    width = int(round(seconds * sr))
    y = np.asarray(y, dtype=np.float32)
    if len(y) < width:
        return np.pad(y, (0, width - len(y)))[None]
    n = len(y) // width
    return y[: n * width].reshape(n, width)


class HFEmbedder:
    """A Hugging Face audio model in eval mode, embedding windows of waveform.

    Parameters
    ----------
    source : PretrainedSource
        An ``hf:`` source (:func:`hf_source`).
    device : str
        ``cpu``, ``cuda`` or ``cuda:N`` (``auto`` resolved by the caller).
    batch_windows : int
        Windows per forward pass.

    Attributes
    ----------
    sampling_rate : int
        The rate (Hz) the feature extractor expects; clips are decoded to it.
    weights_digest : str
        sha256 of the model's parameters and buffers (names, dtypes, shapes and bytes), which
        keys the embedding cache.
    """

    def __init__(
        self, source: PretrainedSource, *, device: str, batch_windows: int = BATCH_WINDOWS
    ) -> None:
        self.source = source
        self.device = device
        self.batch_windows = batch_windows
        self.extractor, self.network = _load(source.checkpoint)
        self.network.to(device)
        self.sampling_rate = int(self.extractor.sampling_rate)
        self.weights_digest = _state_digest(self.network)

    def units(self, y: np.ndarray) -> np.ndarray:
        """The windows of one clip's waveform (at :attr:`sampling_rate`): (n, samples)."""
        return windows(y, sr=self.sampling_rate)

    def embed(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Both layers for each window.

        Parameters
        ----------
        batch : np.ndarray, shape (n, samples)
            Windows of mono waveform at :attr:`sampling_rate`, full scale 1.

        Returns
        -------
        dict
            ``hidden_last`` and ``hidden_mean``: float32 (n, hidden_size).
        """
        import torch

        parts: dict[str, list[np.ndarray]] = {layer: [] for layer in self.source.layers}
        with torch.inference_mode():
            for start in range(0, len(batch), self.batch_windows):
                chunk = [
                    np.asarray(w, np.float32) for w in batch[start : start + self.batch_windows]
                ]
                inputs = self.extractor(
                    chunk, sampling_rate=self.sampling_rate, return_tensors="pt"
                )
                inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
                hidden = self.network(**inputs, output_hidden_states=True).hidden_states
                per_layer = torch.stack([h.float().mean(dim=1) for h in hidden])  # (L, n, dim)
                parts["hidden_last"].append(per_layer[-1].cpu().numpy())
                parts["hidden_mean"].append(per_layer.mean(dim=0).cpu().numpy())
        return {
            layer: np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
            for layer, chunks in parts.items()
        }


def _load(where: str, *, model: bool = True):
    """transformers' feature extractor and (with ``model``) model of ``where``; one line when
    they cannot be loaded."""
    try:
        import transformers
    except ImportError:
        raise ParameterError(
            f"hf:{where} needs transformers; install the optional extra: "
            "pip install 'fma-harness[hf]'"
        ) from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    local = Path(where).is_dir()
    options = {"trust_remote_code": False, "local_files_only": local}
    try:
        extractor = transformers.AutoFeatureExtractor.from_pretrained(where, **options)
        network = None
        if model:
            network = transformers.AutoModel.from_pretrained(
                where, use_safetensors=True, **options
            ).eval()
    except (OSError, ValueError, KeyError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParameterError(
            f"hf:{where}: cannot load it as a Hugging Face audio model ({first[:200]}); expected "
            "a folder written by save_pretrained with model.safetensors, config.json and "
            "preprocessor_config.json, or a hub id in the local cache (no code from the model's "
            "files is run: trust_remote_code is off)"
        ) from None
    return extractor, network


def _state_digest(network) -> str:
    """sha256 over the state dict's names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        values = flat.float() if flat.is_floating_point() else flat  # numpy has no bfloat16
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()


def hf_sampling_rate(name: str) -> int:
    """The rate (Hz) the feature extractor of source ``name`` expects (its config only)."""
    extractor, _ = _load(hf_source(name).checkpoint, model=False)
    return int(extractor.sampling_rate)


def waveform_rate(sources: list[str]) -> int | None:
    """The waveform rate (Hz) a bundle reading ``sources`` decodes to: an ``hf:`` source's
    extractor rate, or None when every source is a musicnn one. One line when they mix, or
    when two ``hf:`` sources want different rates (a bundle decodes each file once)."""
    hf = [name for name in dict.fromkeys(sources) if is_hf_source(name)]
    if not hf:
        return None
    if len(hf) < len(set(sources)):
        raise ParameterError(
            f"a model reading both {hf[0]} and a musicnn source cannot be bundled; "
            "choose its candidates from one kind of source"
        )
    rates = {name: hf_sampling_rate(name) for name in hf}
    if len(set(rates.values())) > 1:
        raise ParameterError(f"the hf: sources {rates} expect different rates; bundle one")
    return next(iter(rates.values()))
