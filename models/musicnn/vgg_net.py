"""The VGG-style baseline of the musicnn package at inference, written for PyTorch.

Input: log-mel patches (batch, 187, 96) (only 187 frames: the dense layer's width depends on
it). Batch norm of the input, then five blocks of a 3 x 3 convolution (128 filters,
"same" padding, one frame or band on each side), ReLU, batch norm and max pooling ("valid":
4 x 1 then 2 x 2 three times, all with stride 2; then 4 x 4 with stride 4; the maps go from
187 x 96 to 92 x 48, 46 x 24, 23 x 12, 11 x 6 and 2 x 1), and a dense layer from the
flattened ``pool5`` to the 50 tag logits. Dropout is inactive at inference.

``pool5`` is flattened as TensorFlow flattens its NHWC map, (time, frequency, channel) in C
order: value ``t * 128 + c`` is channel ``c`` of time step ``t`` (frequency has one step).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.musicnn.layers import TaggerOutput, batch_norm, check_patches

FILTERS = 128
N_MELS = 96
PATCH_FRAMES = 187
#: (kernel, stride) of each block's max pooling.
POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
POOL5_SIZE = 2 * 1 * FILTERS  # (time, frequency, channel) after the last pooling of 187 x 96


class MusicnnVGG(nn.Module):
    """The VGG-style tagger with ``n_tags`` outputs (50 for the MSD and MTT checkpoints).

    Parameter names are the torch ones (:mod:`models.musicnn.conversion` maps the checkpoint
    onto them); call ``.eval()`` before use.
    """

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
        """Tag logits, probabilities and ``pool5`` of each patch.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, 187, 96), float32
            Log-mel patches of exactly 187 frames: the dense layer's width depends on it.

        Returns
        -------
        TaggerOutput
            ``logits`` and ``probabilities`` (batch, n_tags), embedding ``pool5`` (batch, 256).
        """
        check_patches(x, n_mels=N_MELS, frames=PATCH_FRAMES)
        h = self.input_bn(x.unsqueeze(1))
        for conv, bn, pool in zip(self.convs, self.norms, self.pools, strict=True):
            h = pool(bn(F.relu(conv(h))))
        pool5 = h.permute(0, 2, 3, 1).flatten(1)  # TensorFlow's NHWC order
        logits = self.output(pool5)
        return TaggerOutput(logits, torch.sigmoid(logits), {"pool5": pool5})
