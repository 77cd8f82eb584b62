"""The per-step math of the neural training loop: learning-rate schedules, augmentation, losses
and class weights, one training epoch, chunk-averaged prediction and validation scores.

:mod:`harness.training.fit_loop` assembles them; they take plain tensors, arrays, modules and
loaders so they can be tested one by one. Checkpoint files live in
:mod:`harness.training.checkpoint`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from harness.errors import DataError, ParameterError
from harness.scoring import metrics
from harness.training import runtime

SCHEDULES = ("onecycle", "cosine", "constant")


def lr_at(step: int, *, total: int, peak: float, schedule: str, warmup: float = 0.3) -> float:
    """Learning rate at optimiser step ``step`` (0-based) of ``total``.

    "onecycle": cosine warm-up from peak/25 to ``peak`` over the first ``warmup`` fraction, then
    cosine annealing to peak/1e4; "cosine": cosine decay from ``peak`` to 0; "constant": ``peak``.
    """
    if schedule not in SCHEDULES:
        raise ParameterError(f"Unknown schedule '{schedule}'; expected one of {list(SCHEDULES)}.")
    frac = min(step / max(total, 1), 1.0)
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * frac))
    start, end = peak / 25, peak / 1e4
    if frac < warmup:
        t = frac / warmup
        return start + (peak - start) * 0.5 * (1 - math.cos(math.pi * t))
    t = (frac - warmup) / (1 - warmup)
    return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * t))


def spec_augment(x: torch.Tensor, *, freq_mask: int, time_mask: int) -> torch.Tensor:
    """Mask one random band of < ``freq_mask`` bins and one span of < ``time_mask`` frames per
    example, filled with that example's mean. x: (batch, n_mels, frames); returns a new tensor."""
    b, n_freq, n_time = x.shape
    dev = x.device
    out = x.clone()
    fill = x.mean(dim=(1, 2), keepdim=True).expand_as(x)
    for size, length, axis in ((freq_mask, n_freq, 1), (time_mask, n_time, 2)):
        if size <= 0:
            continue
        width = torch.randint(0, min(size, length), (b, 1), device=dev)
        start = (torch.rand(b, 1, device=dev) * (length - width + 1)).long()
        pos = torch.arange(length, device=dev).unsqueeze(0)
        mask = (pos >= start) & (pos < start + width)  # (b, length)
        mask = mask.unsqueeze(2) if axis == 1 else mask.unsqueeze(1)
        out = torch.where(mask.expand_as(x), fill, out)
    return out


def compute_loss(logits, target, *, task: str, weight=None, mix=None) -> torch.Tensor:
    """Cross-entropy (single) or binary cross-entropy (multi), optionally mixed up.

    ``mix`` is None or ``(lam, perm)``: the loss becomes lam * L(target) + (1-lam) *
    L(target[perm]). ``weight``: class weights (single) or positive weights (multi).
    """
    logits = logits.float()
    if task == "single":

        def one(t):
            return F.cross_entropy(logits, t, weight=weight)
    else:

        def one(t):
            return F.binary_cross_entropy_with_logits(logits, t, pos_weight=weight)

    if mix is None:
        return one(target)
    lam, perm = mix
    return lam * one(target) + (1 - lam) * one(target[perm])


def _mixup(x: torch.Tensor, *, alpha: float, seed: int, step: int):
    """Mix each chunk of x (batch, n_mels, frames) with a shuffled partner, weight lam ~
    Beta(alpha, alpha) drawn from (seed, step); returns (x, None) or (mixed x, (lam, perm))."""
    if alpha <= 0 or len(x) < 2:
        return x, None
    lam = float(np.random.default_rng([seed, step]).beta(alpha, alpha))
    perm = torch.randperm(len(x), device=x.device)
    return lam * x + (1 - lam) * x[perm], (lam, perm)


def train_epoch(
    module,
    loader,
    *,
    optimizer,
    scaler,
    device,
    settings,
    lr_fn,
    step0,
    loss_kw,
    use_amp=False,
    on_step=None,
):
    """One pass over ``loader``: one optimiser step per batch.

    Parameters
    ----------
    module : torch.nn.Module
        Maps (batch, n_mels, frames) chunks to (batch, C) logits (DDP-wrapped under DDP).
    loader : iterable
        Yields (chunks float32 (batch, n_mels, frames), targets (batch,) int64 or (batch, C)).
    optimizer, scaler
        The optimiser and the ``torch.amp.GradScaler`` (enabled for float16 only:
        :func:`harness.training.runtime.grad_scaler`).
    device : torch.device
    settings : dict
        The estimator's parameters (spec_augment, freq_mask, time_mask, mixup, grad_clip,
        task, random_state).
    lr_fn : callable
        ``lr_fn(step)``: the learning rate of optimiser step ``step`` (0-based, whole run).
    step0 : int
        Optimiser steps done before this epoch.
    loss_kw : dict
        Extra keyword arguments of :func:`compute_loss` (``{"weight": tensor or None}``).
    use_amp : bool
        Forward passes under :func:`harness.training.runtime.autocast`.
    on_step : callable or None
        Called after every step (progress bar).

    Returns
    -------
    tuple
        (mean loss, mean finite gradient norm before clipping, last learning rate, steps done
        in total including ``step0``).
    """
    module.train()
    losses, norms, lr, step = [], [], 0.0, step0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if settings["spec_augment"]:
            x = spec_augment(x, freq_mask=settings["freq_mask"], time_mask=settings["time_mask"])
        x, mix = _mixup(x, alpha=settings["mixup"], seed=settings["random_state"], step=step)
        lr = lr_fn(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with runtime.autocast(device, use_amp):
            logits = module(x)
        loss = compute_loss(logits, y, task=settings["task"], mix=mix, **loss_kw)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        clip = settings["grad_clip"] or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        scaler.step(optimizer)
        scaler.update()
        # kept on the device and read once an epoch: reading each step's value made the CPU
        # wait for the GPU at every step (float16's GradScaler still reads its inf check)
        losses.append(loss.detach())
        norms.append(norm.detach())
        step += 1
        if on_step is not None:
            on_step()
    if not losses:
        raise DataError("The training loader yielded no batch; give at least one training clip.")
    loss_values = torch.stack(losses).double().cpu().numpy()
    norm_values = torch.stack(norms).double().cpu().numpy()
    finite = norm_values[np.isfinite(norm_values)]
    mean_norm = float(np.mean(finite)) if len(finite) else math.nan
    return float(np.mean(loss_values)), mean_norm, lr, step


@torch.inference_mode()
def predict_logits(module, loader, *, device, use_amp: bool) -> np.ndarray:
    """Mean logits over each clip's chunks. loader yields (batch, n_chunks, n_mels, frames);
    returns float32 (n_clips, n_classes)."""
    module.eval()
    out = []
    for chunks in loader:
        b, k = chunks.shape[:2]
        x = chunks.to(device).flatten(0, 1)
        with runtime.autocast(device, use_amp):
            logits = module(x)
        out.append(logits.float().view(b, k, -1).mean(dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def logits_to_proba(logits: np.ndarray, *, task: str) -> np.ndarray:
    """Softmax (single) or sigmoid (multi) of (n, C) logits, float64."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    return (torch.softmax(z, dim=1) if task == "single" else torch.sigmoid(z)).numpy()


def score_logits(logits: np.ndarray, targets: np.ndarray, *, task: str) -> dict:
    """Validation scores of chunk-averaged logits.

    Parameters
    ----------
    logits : np.ndarray, float32, shape (n_clips, C)
    targets : np.ndarray
        int64 (n_clips,) class indices (single) or 0/1 (n_clips, C) multi-hot (multi).
    task : {"single", "multi"}

    Returns
    -------
    dict
        "log_loss" (nats per clip; multi: mean binary cross-entropy per clip and class),
        "macro_f1" and "accuracy" (multi: F1 at threshold 0.5 and exact-match accuracy).
        Macro F1 is :func:`harness.scoring.metrics.macro_f1` (single) or
        :func:`~harness.scoring.metrics.f1_at_thresholds` (multi): a class absent from both the
        targets and the predictions is left out of the mean, as on the leaderboard.
    """
    proba = logits_to_proba(logits, task=task)
    labels = list(range(proba.shape[1]))
    # the metrics refuse NaN scores; scoring the 0/1 predictions instead keeps a diverged
    # epoch scorable (its NaN rows predict class 0, as np.argmax has it) with equal results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.DegenerateInputWarning)
        if task == "single":
            picked = np.clip(proba[np.arange(len(targets)), targets], metrics.EPS, 1.0)
            one_hot = np.eye(len(labels))[proba.argmax(axis=1)]
            return {
                "log_loss": float(-np.log(picked).mean()),
                "macro_f1": metrics.macro_f1(targets, one_hot, labels=labels),
                "accuracy": metrics.accuracy(targets, one_hot, labels=labels),
            }
        z = torch.as_tensor(logits, dtype=torch.float64)
        t = torch.as_tensor(targets, dtype=torch.float64)
        pred = (proba >= metrics.DEFAULT_THRESHOLD).astype(int)
        return {
            "log_loss": float(F.binary_cross_entropy_with_logits(z, t)),
            "macro_f1": metrics.f1_at_thresholds(targets, pred, labels=labels),
            "accuracy": float((pred == targets).all(axis=1).mean()),
        }


def class_weights(
    targets: np.ndarray, *, task: str, class_weight, classes, device=None
) -> torch.Tensor | None:
    """Loss weight of each class, for :func:`compute_loss`'s ``weight``.

    Parameters
    ----------
    targets : np.ndarray
        int64 (n_clips,) class indices (single) or 0/1 (n_clips, C) multi-hot (multi).
    task : {"single", "multi"}
    class_weight : None, "balanced" or dict
        "balanced": n / (C * count) per class (single) or negatives / positives per class
        (multi, a positive weight); a dict maps class names to weights (1.0 for the others).
    classes : sequence, length C
        Class names in output order.
    device : torch.device or None

    Returns
    -------
    torch.Tensor, float32, shape (C,), or None when ``class_weight`` is None
    """
    if class_weight is None:
        return None
    w = None
    if task == "multi":
        pos = targets.sum(axis=0)
        w = (len(targets) - pos) / np.maximum(pos, 1) if class_weight == "balanced" else None
    elif class_weight == "balanced":
        counts = np.bincount(targets, minlength=len(classes))
        w = len(targets) / (len(classes) * np.maximum(counts, 1))
    if isinstance(class_weight, dict):
        w = np.array([float(class_weight.get(c, 1.0)) for c in classes])
    if w is None:
        raise ParameterError(f"class_weight={class_weight!r}; expected None, 'balanced' or a dict.")
    return torch.as_tensor(w, dtype=torch.float32, device=device)
