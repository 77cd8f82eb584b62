"""Convolutional recurrent network after Choi, Fazekas, Sandler & Cho (2017), "Convolutional
recurrent neural networks for music classification" (CRNN).

Input normalisation over mel bins, four blocks of 3x3 conv, batch norm, ELU, max-pool and
dropout that collapse the frequency axis, a 2-layer GRU over the remaining time steps, and a
linear head on the last hidden state (or on the mean of the top layer's outputs). The
``paper`` preset is the published stack (64-128-128-128 channels, pools (2,2), (3,3), (4,4),
(4,4), two GRU layers of 32 units: about 0.39 M parameters on 96 mel bands).

``compact`` is sized for a 2-core CPU and was chosen on the default synthetic set, where the
genre pairs Rock / Pop and Folk / International differ only in drum order and metre (the
figures below predate ``pool_first``: its blocks now max-pool before batch norm and ELU, see
``fast_defaults``):

- time is pooled 2x in all, in the first block (pools (2,2), (2,1), (2,1), (3,1)), so the GRU
  steps every 46 ms and sees the eighth-note drum grid (120-300 ms); the fast preset pools 4x
  and trains more epochs instead (see ``fast_defaults``). After 30 epochs (one run each,
  before mixup), validation log loss was 0.60 with 8x pooling, 0.41 with 4x and 0.32 with 2x;
  the published 16x (371 ms steps) could not tell the rhythm pairs apart (test macro F1 0.70
  after 15 epochs). Pooling in the first block rather than the last halves the cost
  of the later blocks, which pays for 6 s training chunks at the cost per epoch of 3 s ones;
- the head reads the mean of the GRU outputs ("mean"): with the last hidden state (8x pooling,
  15 epochs) validation macro F1 was 0.35 instead of 0.65;
- 4 frequency rows (96 / 24) are flattened into the GRU input: collapsing frequency to one row
  made the small model learn timbre cues much more slowly (val macro F1 0.70 vs 0.80).

Without mixup its results varied strongly with the seed (validation log loss 0.08, 0.28, 0.33
and 0.90 over seeds 0-3). The cause is a shortcut, not the optimiser: the bad runs fit the
training clips as well as the good ones (log loss 0.23 vs 0.20 in eval mode) but key on an
artist's constant noise layer. The one Instrumental artist of the validation split has a hiss
at -21 dB, like two Hip-Hop training artists. Seed 3 called all 5 of its clips Hip-Hop (mean
p(Instrumental) 0.02); rendered again without the hiss, the same clips got 0.99. Mixup (alpha
0.3, ``build_crnn.training_defaults``) blends clips of different artists and genres, so a noise
floor stops predicting the label: seed 3 then gave the hissy clips 0.81 (all right). Over
seeds 0-4 with mixup, validation log loss was 0.30, 0.14, 0.10, 0.18 and 0.23, test log loss
0.25-0.36 and test macro F1 0.92 for every seed (mfcc-logreg: 0.54 / 0.370 / 0.885); seed 0
still misses 3 of the hissy artist's 5 clips. Compare CRNN variants over several seeds, not
one run; the report's ``artist_errors`` check names the artists a model misses as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from harness.errors import ParameterError
from models.blocks import (
    ConvFrontEnd,
    min_size,
    preset_config,
    small_head,
)


@dataclass(frozen=True)
class CRNNConfig:
    """Sizes of the CRNN.

    Parameters
    ----------
    channels : tuple of int
        Output channels of each conv block.
    pools : tuple of (int, int)
        Max-pool (freq, time) after each block.
    conv_dropout : float
        Dropout after each conv block.
    gru_hidden : int
        Units of each GRU layer.
    gru_layers : int
        Stacked GRU layers.
    head_dropout : float
        Dropout before the linear head.
    summary : str
        What the head sees: "last" (the top GRU layer's last hidden state, as published) or
        "mean" (the top layer's outputs averaged over time).
    bidirectional : bool
        Run the GRU both ways (the head then sees 2 x gru_hidden features).
    input_norm : bool
        Batch norm over mel bins of the input.
    pool_first : int
        How many leading conv blocks max-pool before their batch norm and activation
        (:class:`models.blocks.ConvBlock`; cheaper on a CPU). Compact: all 4. The ``paper``
        preset keeps the published order (0).
    """

    channels: tuple[int, ...] = (16, 32, 64, 64)
    pools: tuple[tuple[int, int], ...] = ((2, 2), (2, 1), (2, 1), (3, 1))
    conv_dropout: float = 0.1
    gru_hidden: int = 64
    gru_layers: int = 2
    head_dropout: float = 0.1
    summary: str = "mean"
    bidirectional: bool = False
    input_norm: bool = True
    pool_first: int = 4


PRESETS: dict[str, CRNNConfig] = {
    "paper": CRNNConfig(
        channels=(64, 128, 128, 128),
        pools=((2, 2), (3, 3), (4, 4), (4, 4)),
        gru_hidden=32,
        head_dropout=0.3,
        summary="last",
        pool_first=0,
    ),
    "compact": CRNNConfig(),
    # the fast training preset's model (``fast_defaults``): time pooled 4x, the second block
    # pooling (2, 2), so that 35 epochs cost about what 25 cost pooled 2x
    "compact-4x": CRNNConfig(pools=((2, 2), (2, 2), (2, 1), (3, 1))),
}


class CRNN(ConvFrontEnd):
    """CRNN genre classifier.

    Parameters
    ----------
    n_classes : int
        Number of output logits.
    n_mels : int
        Mel bands of the input.
    config : CRNNConfig
        Layer sizes.

    Notes
    -----
    ``forward(x)``: x of shape (batch, n_mels, frames) or (batch, 1, n_mels, frames); returns
    logits (batch, n_classes).
    """

    def __init__(self, *, n_classes: int, n_mels: int, config: CRNNConfig) -> None:
        super().__init__(n_mels=n_mels, config=config, model="crnn", dropout=config.conv_dropout)
        in_ch = config.channels[-1]
        freq_out = n_mels // min_size(config.pools, 0)  # floor of floors = floor of the product
        self.gru = nn.GRU(
            input_size=in_ch * freq_out,
            hidden_size=config.gru_hidden,
            num_layers=config.gru_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
        )
        self.dropout = nn.Dropout(config.head_dropout)
        if config.summary not in ("last", "mean"):
            raise ParameterError(f"crnn summary must be 'last' or 'mean', got {config.summary!r}.")
        self.head = small_head(config.gru_hidden * (2 if config.bidirectional else 1), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        seq = x.flatten(1, 2).transpose(1, 2)  # (B, C*F, T) -> (B, T, C*F)
        # The recurrence runs in float32 under mixed precision: with a bfloat16 GRU (8-bit
        # mantissa) the default run's CRNN did worse (seed 0, same data and lanes: validation
        # log loss 0.72 against 0.68, test 0.58 against 0.51), and the GRU is a small share of
        # a step.
        with torch.autocast(seq.device.type, enabled=False):
            outputs, hidden = self.gru(seq.float())
        if self.config.summary == "mean":
            summary = outputs.mean(dim=1)
        elif self.config.bidirectional:  # the top layer's forward and backward final states
            summary = torch.cat([hidden[-2], hidden[-1]], dim=1)
        else:
            summary = hidden[-1]
        return self.head(self.dropout(summary))


def build_crnn(*, n_classes: int, n_mels: int, preset: str = "compact", **overrides) -> CRNN:
    """Build the CRNN from a preset, with any :class:`CRNNConfig` field overridden.

    Parameters
    ----------
    n_classes : int
        Number of classes (output logits).
    n_mels : int
        Mel bands of the input log-mel.
    preset : str
        "compact" (CPU-sized, default), "compact-4x" (time pooled 4x: the fast training
        preset's) or "paper" (Choi et al. 2017).
    **overrides
        Fields of :class:`CRNNConfig`, e.g. ``gru_hidden=64``.

    Returns
    -------
    CRNN
        An ``nn.Module`` mapping (batch, n_mels, frames) to logits (batch, n_classes).
    """
    config = preset_config(PRESETS, preset, overrides, model="crnn")
    return CRNN(n_classes=n_classes, n_mels=n_mels, config=config)


build_crnn.consumes = "logmel"
# The default run's training settings: 45 epochs on 6 s chunks (the estimator's default 256
# frames; 8 averaged at evaluation) with SpecAugment and mixup (see the module docstring), and
# no early stopping, because the validation loss jumps while the one-cycle learning rate is high
# (patience 8 stopped two variants at epochs 13 and 24 of 45).
build_crnn.training_defaults = {
    "spec_augment": True,
    "mixup": 0.3,
    "epochs": 45,
    "patience": None,
    "n_eval_chunks": 8,
}
# The fast preset (the default run): 3 s crops, 4 evaluation chunks, mixup kept (without it
# the CRNN keyed on artists' mix colour: validation log loss 0.90 against 0.49 with it, 25
# epochs on the 10 s demo set), and 35 epochs with time pooled 4x (the second block pools
# (2, 2): the GRU steps every 93 ms) for about the cost of 25 epochs pooled 2x (a training step
# took 0.69x the time: one thread, bfloat16, batch 32). Test log loss / macro F1, one thread as
# in the default run's lanes, 4x and 35 epochs against 2x and 25:
# - demo set, seeds 0-2: 0.476 / 0.837, 0.459 / 0.817, 0.344 / 0.920 against 0.490 / 0.851,
#   0.530 / 0.797, 0.499 / 0.865 (mfcc-logreg 0.530 / 0.763);
# - the 400-track manifest set (artists known), splits 0-2: 0.619 / 0.721, 0.598 / 0.816,
#   0.717 / 0.742 against 0.693 / 0.710, 0.762 / 0.698, 1.006 / 0.546 (mfcc-logreg 0.829 /
#   0.766, 0.761 / 0.743, 0.701 / 0.811);
# - but on the demo set's multi-label task (genres_all, three lanes) test macro PR-AUC fell from
#   0.722 to 0.674 (validation 0.672 to 0.654; mfcc-logreg 0.612 and 0.610).
# Pooling first in every block (``pool_first=4``, 2x, 25 epochs) had given 0.490 / 0.851,
# 0.530 / 0.797, 0.499 / 0.865 on the demo set against 0.513 / 0.792, 0.761 / 0.716, 0.575 /
# 0.837 pooling last, at 0.76x the time per step. ``--full`` keeps the compact preset's 2x. The
# 4x is a model preset, not ``model_params``, so that ``[params.crnn] preset = "paper"`` still
# builds the published stack, and ``model_params`` still refine the fast preset's model.
build_crnn.fast_defaults = {
    "epochs": 35,
    "chunk_frames": 128,
    "n_eval_chunks": 4,
    "preset": "compact-4x",
}
