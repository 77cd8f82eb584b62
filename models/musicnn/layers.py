"""What the two ported architectures share: TensorFlow's batch normalisation, the check of
their input and the output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from harness.errors import ParameterError

#: ``tf.compat.v1.layers.batch_normalization``'s epsilon (torch's default is 1e-5).
TF_BN_EPS = 1e-3


def batch_norm(channels: int, dims: int = 2) -> nn.Module:
    """Inference-time batch normalisation with TensorFlow's epsilon."""
    layer = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[dims]
    return layer(channels, eps=TF_BN_EPS)


def check_patches(x: torch.Tensor, *, n_mels: int, frames: int | None = None) -> None:
    """``x`` is a float tensor (batch, frames, n_mels) (``frames`` fixed when given), or one
    line saying what it is instead."""
    wrong = (
        x.ndim != 3
        or x.shape[2] != n_mels
        or x.shape[1] < 1
        or (frames is not None and x.shape[1] != frames)
        or not x.is_floating_point()
    )
    if wrong:
        length = frames if frames is not None else "frames"
        raise ParameterError(
            f"expected log-mel patches of shape (batch, {length}, {n_mels}), float; got "
            f"{tuple(x.shape)}, {x.dtype}"
        )


@dataclass
class TaggerOutput:
    """One forward pass of a tagger.

    Attributes
    ----------
    logits : torch.Tensor, shape (batch, n_tags)
    probabilities : torch.Tensor, shape (batch, n_tags)
        ``sigmoid(logits)``: tags are not exclusive.
    embeddings : dict
        layer name -> torch.Tensor (batch, dim).
    """

    logits: torch.Tensor
    probabilities: torch.Tensor
    embeddings: dict[str, torch.Tensor]
