"""The VGG-style baseline of the musicnn package at inference, written for PyTorch.

Input: log-mel patches (batch, 187, 96) (only 187 frames: the dense layer's width depends on
it). Batch norm of the input, then five blocks of a 3 x 3 convolution (128 filters,
"same" padding), ReLU, batch norm and max pooling (4 x 1 then 2 x 2 three times, all with
stride 2; then 4 x 4 with stride 4), flattened as TensorFlow does (time, frequency, channel:
``pool5`` has 2 x 1 x 128 = 256 values), and a dense layer to the 50 tag logits.
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

FILTERS = 128
PATCH_FRAMES = 187
#: (kernel, stride) of each block's max pooling.
POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
POOL5_SIZE = 2 * 1 * FILTERS  # (time, frequency, channel) after the last pooling of 187 x 96


class MusicnnVGG(nn.Module):
    """The VGG-style tagger with ``n_tags`` outputs."""

    def __init__(self, n_tags: int = 50) -> None:
        super().__init__()
        self.input_bn = batch_norm(1)
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else FILTERS, FILTERS, 3, padding=1) for i in range(len(POOLS))
        )
        self.norms = nn.ModuleList(batch_norm(FILTERS) for _ in POOLS)
        self.pools = nn.ModuleList(nn.MaxPool2d(kernel, stride) for kernel, stride in POOLS)
        self.output = nn.Linear(POOL5_SIZE, n_tags)

    def forward(self, x: torch.Tensor) -> TaggerOutput:
        """``x`` (batch, 187, 96) -> tag logits, probabilities and ``pool5`` (batch, 256)."""
        if x.shape[1] != PATCH_FRAMES:
            raise ValueError(
                f"the vgg models read patches of {PATCH_FRAMES} frames, got {x.shape[1]}"
            )
        h = self.input_bn(x.unsqueeze(1))
        for conv, bn, pool in zip(self.convs, self.norms, self.pools, strict=True):
            h = pool(bn(F.relu(conv(h))))
        pool5 = h.permute(0, 2, 3, 1).flatten(1)  # TensorFlow's NHWC order
        logits = self.output(pool5)
        return TaggerOutput(logits, torch.sigmoid(logits), {"pool5": pool5})

    def load_checkpoint(self, tensors: dict[str, np.ndarray]) -> None:
        """Copy a vgg checkpoint's tensors (TensorFlow names) into this module."""
        copy_batch_norm(self.input_bn, tensors, "batch_normalization")
        for i, (conv, bn) in enumerate(zip(self.convs, self.norms, strict=True)):
            copy_conv2d(conv, tensors, f"{i + 1}CNN")
            copy_batch_norm(bn, tensors, f"batch_normalization_{i + 1}")
        copy_dense(self.output, tensors, "dense")
