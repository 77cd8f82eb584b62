"""``musicnn-finetune``: the pretrained musicnn trained end to end on the task, with a new head.

The network is the MSD (or MTT) checkpoint's (:mod:`models.musicnn.weights`) with its 50-tag
output replaced by a freshly initialised linear layer to the task's classes; dropout 0.5
before the two dense layers, as the original was trained. The harness trains it with its one
training loop on the musicnn spectrograms (``feature_set = "musicnn-mel"``: 16 kHz, 96 bands,
``log10(1 + 10000 S)``), on 3 s chunks of 187 frames, the length the network was trained on.
A small learning rate keeps what the pretrained weights know.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.musicnn.musicnn_net import BACKEND_UNITS, N_MELS
from models.musicnn.weights import load_pretrained

CHECKPOINTS = ("MSD_musicnn", "MTT_musicnn")
PRESETS = ("compact", "paper")  # the harness's preset names; both are the published network
PATCH_FRAMES = 187


class FineTunedMusicnn(nn.Module):
    """A pretrained musicnn body and a new linear head.

    Input (batch, 96, frames), the harness's (mels, frames) layout; output logits
    (batch, n_classes).
    """

    chunk_frames = PATCH_FRAMES
    min_frames = 1

    def __init__(self, body: nn.Module, n_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.body = body
        self.body.output = nn.Linear(BACKEND_UNITS, n_classes)
        self.dropout = nn.Dropout(dropout)
        # the original trained with dropout before both dense layers; the port's body has none
        self.body.dense.register_forward_pre_hook(lambda _, args: (self.dropout(args[0]),))
        self.body.output.register_forward_pre_hook(lambda _, args: (self.dropout(args[0]),))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.transpose(1, 2)).logits


def build_musicnn_finetune(
    *,
    n_classes: int,
    n_mels: int,
    preset: str = "compact",
    checkpoint: str = "MSD_musicnn",
    weights_dir: str = ".cache",
    dropout: float = 0.5,
) -> FineTunedMusicnn:
    """The pretrained musicnn with a new head of ``n_classes`` outputs.

    Parameters
    ----------
    n_mels : int
        Must be 96 (the musicnn spectrograms).
    preset : str
        "compact" or "paper": the same published network (accepted as every model's).
    checkpoint : str
        ``MSD_musicnn`` or ``MTT_musicnn``.
    weights_dir : str
        Where the converted pretrained weights are cached.
    """
    if n_mels != N_MELS:
        raise ValueError(f"musicnn-finetune reads {N_MELS} mel bands, got {n_mels}")
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint {checkpoint!r}: expected one of {', '.join(CHECKPOINTS)}")
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r}: expected one of {', '.join(PRESETS)}")
    body = load_pretrained(checkpoint, cache_dir=Path(weights_dir))
    return FineTunedMusicnn(body, n_classes, dropout=dropout)


build_musicnn_finetune.consumes = "logmel"
build_musicnn_finetune.feature_set = "musicnn-mel"
# A small peak learning rate (one-cycle) so the pretrained weights move little; 3 s chunks.
build_musicnn_finetune.training_defaults = {
    "epochs": 10,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "chunk_frames": PATCH_FRAMES,
    "n_eval_chunks": 9,  # a 29 s clip's 3 s patches
}
build_musicnn_finetune.fast_defaults = {"epochs": 4, "n_eval_chunks": 3}
