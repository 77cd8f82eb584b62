"""What the two ported architectures share: TensorFlow's batch normalisation, the output, and
copying a checkpoint's tensors into torch parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: ``tf.compat.v1.layers.batch_normalization``'s epsilon (torch's default is 1e-5).
TF_BN_EPS = 1e-3


def batch_norm(channels: int, dims: int = 2) -> nn.Module:
    """Inference-time batch normalisation with TensorFlow's epsilon."""
    layer = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[dims]
    return layer(channels, eps=TF_BN_EPS)


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


def copy_batch_norm(layer: nn.Module, tensors: dict[str, np.ndarray], scope: str) -> None:
    """A TensorFlow batch normalisation's four tensors into ``layer``."""
    _copy(layer.weight, tensors[f"{scope}/gamma"])
    _copy(layer.bias, tensors[f"{scope}/beta"])
    _copy(layer.running_mean, tensors[f"{scope}/moving_mean"])
    _copy(layer.running_var, tensors[f"{scope}/moving_variance"])


def copy_conv2d(layer: nn.Conv2d, tensors: dict[str, np.ndarray], scope: str) -> None:
    """A TensorFlow conv2d (kernel [h, w, in, out]) into a torch Conv2d ([out, in, h, w])."""
    _copy(layer.weight, np.transpose(tensors[f"{scope}/kernel"], (3, 2, 0, 1)))
    _copy(layer.bias, tensors[f"{scope}/bias"])


def copy_dense(layer: nn.Linear, tensors: dict[str, np.ndarray], scope: str) -> None:
    """A TensorFlow dense layer (kernel [in, out]) into a torch Linear ([out, in])."""
    _copy(layer.weight, tensors[f"{scope}/kernel"].T)
    _copy(layer.bias, tensors[f"{scope}/bias"])


def _copy(target: torch.Tensor, value: np.ndarray) -> None:
    value = np.array(value, dtype=np.float32, order="C")  # a copy: the checkpoint is read-only
    if tuple(target.shape) != value.shape:
        raise ValueError(
            f"checkpoint tensor of shape {value.shape}, expected {tuple(target.shape)}"
        )
    with torch.no_grad():
        target.copy_(torch.from_numpy(value))
