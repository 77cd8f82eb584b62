"""Layers shared by the neural models: input normalisation, conv blocks, global pooling.

Conventions: a log-mel batch is ``(batch, n_mels, frames)`` or ``(batch, 1, n_mels, frames)``;
2-D feature maps are ``(batch, channels, freq, time)``. Pools round down, as in the published
models; an input shorter than the product of a model's time pools is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import torch
from torch import nn

from harness.errors import ParameterError


def min_size(pools: Sequence[Sequence[int]], axis: int) -> int:
    """Smallest input size along ``axis`` (0 freq, 1 time) that survives every pool."""
    size = 1
    for pool in pools:
        size *= pool[axis]
    return size


def as_image(x: torch.Tensor, *, n_mels: int, min_frames: int = 1) -> torch.Tensor:
    """Return ``x`` as ``(batch, 1, n_mels, frames)``, accepting 3-D or 4-D input."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != n_mels:
        raise ParameterError(
            f"Model input has shape {tuple(x.shape)}; expected (batch, n_mels={n_mels}, frames) "
            f"or (batch, 1, {n_mels}, frames)."
        )
    if x.shape[3] < min_frames:
        raise ParameterError(
            f"Model input has {x.shape[3]} frames; this model needs at least {min_frames} "
            "(the product of its time pools): use a longer chunk_frames."
        )
    return x


class FrequencyNorm(nn.Module):
    """Batch norm over mel bins: each band gets its own learned mean and scale.

    Input and output ``(batch, 1, n_mels, frames)``; statistics are pooled over batch and time.
    The running statistics are a cumulative average (``momentum=None``): the input distribution
    does not drift during training, and dB inputs (around -40) are far from the default
    initial mean of 0, which an exponential average would take hundreds of steps to forget.
    """

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(n_mels, momentum=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 1, F, T) -> (B, F, 1, T): bands become channels
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU}


class FeatureMapDropout(nn.Module):
    """Element-wise dropout of a conv block's feature map, with a cheaper mask on a CPU.

    The same layer as ``nn.Dropout(p)`` (each element zeroed with probability ``p``, the rest
    scaled by 1 / (1 - p)), but on a CPU the mask is one random byte per element compared with
    ``round(p * 256)``, so ``p`` is met to within 1/512. torch's CPU Bernoulli sampling was a
    fifth of a compact CRNN's training step under bfloat16 autocast (one core); with byte masks
    the step took 0.8x the time (the CNN 0.87-1.0x). On other devices it is ``F.dropout``.
    Input and output: any shape; a no-op in eval mode.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ParameterError(f"dropout must be in [0, 1), got {p}.")
        self.p = p
        self.dropped_bytes = round(p * 256)  # mask bytes below this drop their element

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, training=True)
        keep = torch.empty_like(x, dtype=torch.uint8).random_() >= self.dropped_bytes
        return x * keep.to(x.dtype) * (256 / (256 - self.dropped_bytes))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ConvBlock(nn.Sequential):
    """3x3 conv (same padding), batch norm, ELU (or ReLU), max-pool, optional dropout.

    ``pool_first`` max-pools the conv's output before the batch norm and activation. Max-pool
    commutes with the increasing activation, so the block differs only in that the batch norm
    sees (and normalises with the statistics of) the pooled map. Batch norm, activation and
    their gradients are elementwise passes over the whole map: on a CPU they, not the
    convolutions, were most of a compact model's training step (profiled: a CRNN step under
    bfloat16 on one core spent 31% in them and 16% in max-pool, 15% in convolutions). The
    compact presets pool first in their early blocks, where the maps are largest
    (``benchmarks/conv_block_order.py`` has the step times); the published models (``paper``
    presets) keep conv, batch norm, activation, pool.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        pool: Sequence[int],
        dropout: float = 0.0,
        activation: str = "elu",
        pool_first: bool = False,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ParameterError(
                f"Unknown activation '{activation}'; expected one of {list(ACTIVATIONS)}."
            )
        conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        norm, act = nn.BatchNorm2d(out_channels), ACTIVATIONS[activation]()
        pooling = nn.MaxPool2d(kernel_size=tuple(pool))
        layers: list[nn.Module] = (
            [conv, pooling, norm, act] if pool_first else [conv, norm, act, pooling]
        )
        if dropout > 0:
            layers.append(FeatureMapDropout(dropout))
        super().__init__(*layers)


class GlobalPool(nn.Module):
    """Pool ``(batch, channels, freq, time)`` to ``(batch, channels * k)``.

    ``mode``: "max" (k=1, as in the FCN), "avg" (k=1) or "avgmax" (k=2, both concatenated).
    """

    modes = {"max": 1, "avg": 1, "avgmax": 2}

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in self.modes:
            raise ParameterError(
                f"Unknown global pool '{mode}'; expected one of {list(self.modes)}."
            )
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        if self.mode == "max":
            return flat.amax(dim=2)
        if self.mode == "avg":
            return flat.mean(dim=2)
        return torch.cat([flat.mean(dim=2), flat.amax(dim=2)], dim=1)


def conv_stack(
    channels: Sequence[int],
    pools: Sequence[Sequence[int]],
    *,
    dropout: float = 0.0,
    activation: str = "elu",
    pool_first: int = 0,
) -> nn.Sequential:
    """One :class:`ConvBlock` per (channels, pool) pair, starting from a 1-channel image; the
    first ``pool_first`` blocks pool before their batch norm and activation."""
    blocks, in_ch = [], 1
    for i, (out_ch, pool) in enumerate(zip(channels, pools, strict=True)):
        blocks.append(
            ConvBlock(
                in_ch,
                out_ch,
                pool=pool,
                dropout=dropout,
                activation=activation,
                pool_first=i < pool_first,
            )
        )
        in_ch = out_ch
    return nn.Sequential(*blocks)


class ConvFrontEnd(nn.Module):
    """The start every conv model shares: batch norm over mel bins, then one ConvBlock per
    (channels, pool) pair of ``config``.

    Subclasses call ``super().__init__(...)``, add their head, and call :meth:`embed` in
    ``forward``. ``config`` needs ``channels``, ``pools`` and ``input_norm`` fields, and may
    have ``pool_first``: how many leading blocks pool before their batch norm and activation
    (:class:`ConvBlock`; none when absent).
    """

    def __init__(
        self,
        *,
        n_mels: int,
        config,
        model: str,
        dropout: float = 0.0,
        activation: str = "elu",
    ) -> None:
        super().__init__()
        pool_first = getattr(config, "pool_first", 0)
        check_stack(
            config.channels, config.pools, model=model, n_mels=n_mels, pool_first=pool_first
        )
        self.n_mels = n_mels
        self.config = config
        self.min_frames = min_size(config.pools, 1)
        self.input_norm = FrequencyNorm(n_mels) if config.input_norm else nn.Identity()
        self.features = conv_stack(
            config.channels,
            config.pools,
            dropout=dropout,
            activation=activation,
            pool_first=pool_first,
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel (batch, n_mels, frames) or (batch, 1, n_mels, frames) to the last conv
        block's map (batch, channels[-1], n_mels // freq pools, frames // time pools)."""
        x = as_image(x, n_mels=self.n_mels, min_frames=self.min_frames)
        return self.features(self.input_norm(x))


def small_head(in_features: int, n_classes: int, *, std: float = 0.01) -> nn.Linear:
    """Linear head initialised near zero so the loss at init is close to ln(n_classes)."""
    head = nn.Linear(in_features, n_classes)
    nn.init.normal_(head.weight, std=std)
    nn.init.zeros_(head.bias)
    return head


def preset_config(presets: dict, preset: str, overrides: dict, *, model: str):
    """The config of ``presets[preset]`` with ``overrides`` applied; unknown names refused."""
    if preset not in presets:
        raise ParameterError(f"Unknown {model} preset '{preset}'; expected one of {list(presets)}.")
    return apply_overrides(presets[preset], overrides, model=model)


def apply_overrides(config: object, overrides: dict, *, model: str) -> object:
    """Return a copy of the dataclass ``config`` with ``overrides`` applied (names checked)."""
    import dataclasses

    known = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ParameterError(f"Unknown {model} setting(s) {unknown}; known: {sorted(known)}.")
    fixed = {k: tuple(map(tuple, v)) if k == "pools" else v for k, v in overrides.items()}
    fixed = {k: tuple(v) if k == "channels" else v for k, v in fixed.items()}
    return dataclasses.replace(config, **fixed)


def check_stack(
    channels: Sequence[int],
    pools: Sequence[Sequence[int]],
    *,
    model: str,
    n_mels: int,
    pool_first: int = 0,
) -> None:
    """Raise if channels and pools differ in length, the pools shrink n_mels below 1, or
    ``pool_first`` is not a number of blocks."""
    if len(channels) != len(pools) or not channels:
        raise ParameterError(
            f"{model}: channels {tuple(channels)} and pools {tuple(pools)} must have the same "
            "non-zero length (one pool per conv block)."
        )
    if isinstance(pool_first, bool) or not isinstance(pool_first, int) or pool_first < 0:
        raise ParameterError(
            f"{model}: pool_first={pool_first!r} must be a whole number of conv blocks, 0 or "
            f"more (how many leading blocks of the {len(channels)} pool before batch norm)."
        )
    for pool in pools:
        if len(pool) != 2 or min(pool) < 1:
            raise ParameterError(f"{model}: pool {pool} must be (freq, time) with sizes >= 1.")
    if min_size(pools, 0) > n_mels:
        raise ParameterError(
            f"{model}: frequency pools {[p[0] for p in pools]} need at least "
            f"{min_size(pools, 0)} mel bands; got n_mels={n_mels}."
        )


def n_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
