"""What a neural model learned about each clip: its penultimate activations, the input of its
final linear layer, read with a forward pre-hook while the model predicts as usual.

>>> per_chunk = chunk_embeddings(clf.module_, clf.eval_loader(X), n_classes=len(clf.classes_),
...                              device=torch.device("cpu"), use_amp=False)   # (n, k, D)
>>> track = per_chunk.mean(axis=1)                                            # (n, D)

The final linear layer is the module's ``head`` (every built-in model ends in ``self.head``; a
multi-label network is wrapped in :class:`~harness.training.estimator.TagRateOffset`, whose
``net`` has it), else the last ``nn.Linear`` with one output per class. Because that layer is
linear, the mean of the chunk embeddings maps to the mean of the chunk logits: the track
embedding is exactly what the model's chunk-averaged prediction is a linear function of.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.errors import ParameterError
from harness.training import runtime


class NoFinalLinearError(ParameterError):
    """The model has no final linear layer whose input could serve as its embedding."""


def final_linear(module: nn.Module, *, n_classes: int) -> nn.Linear:
    """The layer whose input is the model's embedding.

    Parameters
    ----------
    module : nn.Module
        A network mapping (batch, n_mels, frames) to (batch, n_classes) logits.
    n_classes : int
        Number of output classes (logits).

    Raises
    ------
    NoFinalLinearError
        Neither a ``head`` linear layer (on the module or its ``net``) nor any ``nn.Linear``
        with ``n_classes`` outputs.
    """
    for owner in (module, getattr(module, "net", None)):
        head = getattr(owner, "head", None)
        if isinstance(head, nn.Linear):
            return head
    candidates = [
        layer
        for layer in module.modules()
        if isinstance(layer, nn.Linear) and layer.out_features == n_classes
    ]
    if candidates:
        return candidates[-1]
    raise NoFinalLinearError(
        f"{type(module).__name__} has no final linear layer (no `head` nn.Linear and no "
        f"nn.Linear with {n_classes} outputs): its embedding cannot be read; name the "
        "model's last layer `self.head` to get one"
    )


@torch.inference_mode()
def chunk_embeddings(
    module: nn.Module,
    loader,
    *,
    n_classes: int,
    device: torch.device,
    use_amp: bool,
) -> np.ndarray:
    """The final linear layer's input for every evaluation chunk of every clip.

    Parameters
    ----------
    module : nn.Module
        The fitted network (put in eval mode here; its outputs are left untouched).
    loader : iterable
        Yields float32 (clips, k, n_mels, frames), as
        :meth:`harness.training.estimator.NeuralClassifier.eval_loader`.
    n_classes : int
        Number of output classes (finds the layer, see :func:`final_linear`).
    device : torch.device
    use_amp : bool
        Run under mixed precision (:func:`harness.training.runtime.autocast`), as the model
        predicts.

    Returns
    -------
    np.ndarray, float32, shape (n_clips, k, D)
        D = the final layer's ``in_features``.
    """
    layer = final_linear(module, n_classes=n_classes)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_pre_hook(lambda _layer, args: captured.append(args[0]))
    module.eval()
    out = []
    try:
        for chunks in loader:
            b, k = chunks.shape[:2]
            captured.clear()
            with runtime.autocast(device, use_amp):
                module(chunks.to(device).flatten(0, 1))
            if len(captured) != 1 or captured[0].ndim != 2:
                shapes = [tuple(t.shape) for t in captured]
                raise NoFinalLinearError(
                    f"the final linear layer of {type(module).__name__} saw inputs {shapes} in "
                    "one forward pass; an embedding needs exactly one (batch, D) input"
                )
            out.append(captured[0].float().reshape(b, k, -1).cpu().numpy())
    finally:
        handle.remove()
    if not out:
        return np.zeros((0, 0, layer.in_features), dtype=np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)
