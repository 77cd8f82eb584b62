"""The musicnn architecture (Pons & Serra 2019) at inference, written for PyTorch.

Input: log-mel patches (batch, frames, 96), ``log10(1 + 10000 S)`` of 16 kHz audio (187
frames = 3 s in the published models; any length works). Feature maps are kept as
(batch, channels, frames) after the front end.

- Front end: batch norm of the whole input; two timbral convolutions spanning 7 frames and
  38 / 67 of the 96 bands (204 filters each, time padded by 3 on both sides) and three temporal
  convolutions of 128 / 64 / 32 frames by 1 band (51 filters each, TensorFlow's "same"
  padding: one frame more after than before for an even length); each ReLU then batch norm,
  then max over frequency: 561 channels per frame.
- Mid end: three 1-D convolutions of 7 frames, 64 filters (ReLU, batch norm), the second and
  third with residual connections; the front end's and the three outputs are stacked: 753
  channels per frame.
- Back end: max and mean over time (``max_pool``, ``mean_pool``: 753 each), interleaved per
  channel as TensorFlow flattens them, batch norm, dense 200 + ReLU + batch norm
  (``penultimate``), dense to the 50 tag logits. Dropout is inactive at inference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.musicnn.layers import (
    TaggerOutput,
    batch_norm,
    copy_batch_norm,
    copy_conv2d,
    copy_dense,
)

N_MELS = 96
TIMBRAL_FILTERS = 204  # int(1.6 * 128)
TEMPORAL_FILTERS = 51  # int(1.6 * 32)
TIMBRAL_BANDS = (38, 67)  # int(0.4 * 96), int(0.7 * 96)
TEMPORAL_FRAMES = (128, 64, 32)
MIDEND_FILTERS = 64
BACKEND_UNITS = 200


class MusiCNN(nn.Module):
    """musicnn with ``n_tags`` outputs (50 for the MSD and MTT checkpoints)."""

    def __init__(self, n_tags: int = 50) -> None:
        super().__init__()
        self.input_bn = batch_norm(1)
        self.timbral = nn.ModuleList(
            nn.Conv2d(1, TIMBRAL_FILTERS, (7, bands)) for bands in TIMBRAL_BANDS
        )
        self.timbral_bn = nn.ModuleList(batch_norm(TIMBRAL_FILTERS) for _ in TIMBRAL_BANDS)
        self.temporal = nn.ModuleList(
            nn.Conv2d(1, TEMPORAL_FILTERS, (frames, 1)) for frames in TEMPORAL_FRAMES
        )
        self.temporal_bn = nn.ModuleList(batch_norm(TEMPORAL_FILTERS) for _ in TEMPORAL_FRAMES)
        front = len(TIMBRAL_BANDS) * TIMBRAL_FILTERS + len(TEMPORAL_FRAMES) * TEMPORAL_FILTERS
        self.midend = nn.ModuleList(
            nn.Conv2d(1, MIDEND_FILTERS, (7, width))
            for width in (front, MIDEND_FILTERS, MIDEND_FILTERS)
        )
        self.midend_bn = nn.ModuleList(batch_norm(MIDEND_FILTERS) for _ in range(3))
        pooled = 2 * (front + 3 * MIDEND_FILTERS)
        self.pool_bn = batch_norm(pooled, dims=1)
        self.dense = nn.Linear(pooled, BACKEND_UNITS)
        self.dense_bn = batch_norm(BACKEND_UNITS, dims=1)
        self.output = nn.Linear(BACKEND_UNITS, n_tags)

    def forward(self, x: torch.Tensor) -> TaggerOutput:
        """``x`` (batch, frames, 96) -> tag logits, probabilities and the named embeddings
        ``mean_pool``, ``max_pool`` (batch, 753) and ``penultimate`` (batch, 200)."""
        x = self.input_bn(x.unsqueeze(1))  # (batch, 1, frames, mels)
        maps = []
        padded = F.pad(x, (0, 0, 3, 3))
        for conv, bn in zip(self.timbral, self.timbral_bn, strict=True):
            maps.append(_max_over_bands(conv(padded), bn))
        for conv, bn, frames in zip(self.temporal, self.temporal_bn, TEMPORAL_FRAMES, strict=True):
            before = (frames - 1) // 2
            same = F.pad(x, (0, 0, before, frames - 1 - before))
            maps.append(_max_over_bands(conv(same), bn))
        front = torch.cat(maps, dim=1)  # (batch, 561, frames)
        stacked, previous = [front], front
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bn, strict=True)):
            out = self._midend_conv(conv, bn, previous)
            previous = out if i == 0 else out + previous
            stacked.append(previous)
        features = torch.cat(stacked, dim=1)  # (batch, 753, frames)
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
        interleaved = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(interleaved))))
        logits = self.output(penultimate)
        return TaggerOutput(
            logits=logits,
            probabilities=torch.sigmoid(logits),
            embeddings={"mean_pool": mean_pool, "max_pool": max_pool, "penultimate": penultimate},
        )

    @staticmethod
    def _midend_conv(conv: nn.Conv2d, bn: nn.Module, maps: torch.Tensor) -> torch.Tensor:
        """A 7-frame convolution spanning every channel of ``maps`` (batch, C, frames), as the
        original's conv2d over (frames, C) with one input channel: (batch, 64, frames)."""
        image = F.pad(maps.transpose(1, 2).unsqueeze(1), (0, 0, 3, 3))
        return bn(F.relu(conv(image))).squeeze(3)

    def load_checkpoint(self, tensors: dict[str, np.ndarray]) -> None:
        """Copy a musicnn checkpoint's tensors (TensorFlow names) into this module."""
        copy_batch_norm(self.input_bn, tensors, "batch_normalization")
        convs = [*self.timbral, *self.temporal, *self.midend]
        norms = [*self.timbral_bn, *self.temporal_bn, *self.midend_bn]
        for i, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
            copy_conv2d(conv, tensors, "conv2d" if i == 0 else f"conv2d_{i}")
            copy_batch_norm(bn, tensors, f"batch_normalization_{i + 1}")
        copy_batch_norm(self.pool_bn, tensors, "batch_normalization_9")
        copy_dense(self.dense, tensors, "dense")
        copy_batch_norm(self.dense_bn, tensors, "batch_normalization_10")
        copy_dense(self.output, tensors, "dense_1")


def _max_over_bands(maps: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    """``max over bands of bn(relu(maps))`` for conv outputs (batch, C, frames, bands), computed
    on the reduced maps: relu and batch norm are monotone per channel (decreasing where the
    norm's scale is negative, where the minimum is taken instead), so the result is the same
    value, bit for bit, with a 1/bands of the work. Returns (batch, C, frames)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    extreme = torch.where((scale >= 0)[None, :, None], maps.amax(dim=3), maps.amin(dim=3))
    return F.batch_norm(
        F.relu(extreme), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
    )
