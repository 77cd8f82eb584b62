"""The pieces of the neural training loop: learning-rate schedules, augmentation, one training
epoch, chunk-averaged prediction, validation scores and atomic checkpoints.

:class:`harness.training.estimator.NeuralClassifier` assembles them; they take plain tensors, modules and
loaders so they can be tested one by one.
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from harness.errors import DataError, ParameterError

SCHEDULES = ("onecycle", "cosine", "constant")
CHECKPOINT_NAME = "last.pt"


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


def train_epoch(module, loader, *, optimizer, scaler, device, settings, lr_fn, step0, loss_kw,
                on_step=None):  # fmt: skip
    """One pass over ``loader``; returns (mean loss, mean grad norm, last lr, steps done).

    ``settings`` is the estimator's parameter dict (spec_augment, freq_mask, time_mask, mixup,
    grad_clip, task); ``lr_fn(step)`` gives the learning rate of each optimiser step.
    """
    module.train()
    use_amp = scaler.is_enabled()
    losses, norms, lr, step = [], [], 0.0, step0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if settings["spec_augment"]:
            x = spec_augment(x, freq_mask=settings["freq_mask"], time_mask=settings["time_mask"])
        mix = None
        if settings["mixup"] > 0 and len(x) > 1:
            lam = float(
                np.random.default_rng([settings["random_state"], step]).beta(
                    settings["mixup"], settings["mixup"]
                )
            )
            perm = torch.randperm(len(x), device=device)
            x, mix = lam * x + (1 - lam) * x[perm], (lam, perm)
        lr = lr_fn(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        autocast = torch.autocast(device.type, dtype=torch.float16) if use_amp else nullcontext()
        with autocast:
            logits = module(x)
        loss = compute_loss(logits, y, task=settings["task"], mix=mix, **loss_kw)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        clip = settings["grad_clip"] or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
        norms.append(float(norm))
        step += 1
        if on_step is not None:
            on_step()
    if not losses:
        raise DataError("The training loader yielded no batch; give at least one training clip.")
    finite = [n for n in norms if math.isfinite(n)]
    return float(np.mean(losses)), float(np.mean(finite)) if finite else math.nan, lr, step


@torch.inference_mode()
def predict_logits(module, loader, *, device, use_amp: bool) -> np.ndarray:
    """Mean logits over each clip's chunks. loader yields (batch, n_chunks, n_mels, frames);
    returns float32 (n_clips, n_classes)."""
    module.eval()
    out = []
    for chunks in loader:
        b, k = chunks.shape[:2]
        x = chunks.to(device).flatten(0, 1)
        autocast = torch.autocast(device.type, dtype=torch.float16) if use_amp else nullcontext()
        with autocast:
            logits = module(x)
        out.append(logits.float().view(b, k, -1).mean(dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def logits_to_proba(logits: np.ndarray, *, task: str) -> np.ndarray:
    """Softmax (single) or sigmoid (multi) of (n, C) logits, float64."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    return (torch.softmax(z, dim=1) if task == "single" else torch.sigmoid(z)).numpy()


def score_logits(logits: np.ndarray, targets: np.ndarray, *, task: str) -> dict:
    """Validation scores: {"log_loss", "macro_f1", "accuracy"} (multi: mean BCE, F1 at 0.5,
    exact-match accuracy)."""
    from sklearn.metrics import f1_score

    proba = logits_to_proba(logits, task=task)
    n_classes = proba.shape[1]
    if task == "single":
        eps = 1e-15
        picked = np.clip(proba[np.arange(len(targets)), targets], eps, 1.0)
        pred = proba.argmax(axis=1)
        return {
            "log_loss": float(-np.log(picked).mean()),
            "macro_f1": float(
                f1_score(targets, pred, labels=range(n_classes), average="macro", zero_division=0)
            ),
            "accuracy": float((pred == targets).mean()),
        }
    z = torch.as_tensor(logits, dtype=torch.float64)
    t = torch.as_tensor(targets, dtype=torch.float64)
    pred = (proba >= 0.5).astype(int)
    return {
        "log_loss": float(F.binary_cross_entropy_with_logits(z, t)),
        "macro_f1": float(f1_score(targets.astype(int), pred, average="macro", zero_division=0)),
        "accuracy": float((pred == targets).all(axis=1).mean()),
    }


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by :func:`save_atomic` with ``weights_only=True``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which and what to do
        raise DataError(
            f"Cannot read checkpoint {path} ({type(exc).__name__}: {exc}); delete it to start over."
        ) from exc


def cpu_state(module: torch.nn.Module) -> dict:
    """A detached CPU copy of ``module.state_dict()``."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
