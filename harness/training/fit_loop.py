"""The epoch loop behind :meth:`harness.training.estimator.NeuralClassifier.fit`: set-up, resume
from a checkpoint, train, validate, early-stop, checkpoint, and finish with the best weights.

Under DDP every rank trains on its DistributedSampler shard; rank 0 alone evaluates (on the
full validation set, so no padded duplicates), broadcasts the scores so every rank takes the
same early-stopping decision, writes checkpoints and shows progress; at the end rank 0's best
weights and batch-norm statistics are broadcast so every rank holds the same model. A fit with
``ddp=False`` uses no collective even inside a process group (e.g. rank 0's sanity checks after
a DDP training, while the other ranks have moved on).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel

from harness.errors import DataError, ParameterError
from harness.training import checkpoint, loaders, resident, runtime
from harness.training import distributed as hdist
from harness.training import steps as loop
from harness.training.chunks import ArraySource, encode_targets
from harness.training.progress import EpochProgress
from harness.training.runtime import Runtime

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "val_log_loss",
    "val_macro_f1",
    "val_accuracy",
    "lr",
    "grad_norm",
    "seconds",
)
# settings that must match for a checkpoint to be resumed (epochs, patience, device... may change)
RESUME_KEYS = (
    "model",
    "preset",
    "model_params",
    "task",
    "chunk_frames",
    "batch_size",
    "lr",
    "weight_decay",
    "schedule",
    "spec_augment",
    "freq_mask",
    "time_mask",
    "mixup",
    "class_weight",
    "grad_clip",
    "random_state",
)


@dataclass
class FitState:
    """What a checkpoint needs besides the weights: plain python values only."""

    epoch: int = 0
    step: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped: bool = False
    history: list = field(default_factory=list)


@dataclass(frozen=True)
class EpochContext:
    """Everything an epoch needs that stays the same from epoch to epoch.

    Attributes
    ----------
    module : torch.nn.Module
        The network (unwrapped): validated, checkpointed, kept.
    train_module : torch.nn.Module
        ``module``, DDP-wrapped under DDP: trained.
    loader : DataLoader or ResidentTrainBatches
        The training batches (see :func:`harness.training.loaders.train_loader`).
    optimizer : torch.optim.Optimizer
    scaler : torch.amp.GradScaler
    lr_fn : callable
        ``lr_fn(step)``: learning rate of optimiser step ``step`` (0-based, whole run).
    loss_kw : dict
        ``{"weight": tensor (C,) or None}`` for :func:`harness.training.steps.compute_loss`.
    runtime : Runtime
        Device, mixed precision and DDP rank.
    val : tuple or None
        (validation log-mels as an ArraySource or DeviceArray, encoded targets), or None
        without validation.
    signature : dict
        The settings a checkpoint must match to be resumed.
    ckpt : Path or None
        Checkpoint file written after every epoch (None: no checkpoints).
    """

    module: torch.nn.Module
    train_module: torch.nn.Module
    loader: Iterable
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    lr_fn: Callable[[int], float]
    loss_kw: dict
    runtime: Runtime
    val: tuple | None
    signature: dict
    ckpt: Path | None


def _prepare(clf, X, y, X_val, y_val):
    source = ArraySource(X)
    targets, classes = encode_targets(y, task=clf.task, classes=clf.classes)
    if len(targets) != source.shape[0]:
        raise ParameterError(f"X has {source.shape[0]} clips but y has {len(targets)} labels.")
    val = None
    if X_val is not None:
        if y_val is None:
            raise ParameterError("X_val was given without y_val; pass both or neither.")
        val_source = ArraySource(X_val)
        val_targets, _ = encode_targets(y_val, task=clf.task, classes=classes)
        if val_source.shape[1] != source.shape[1] or len(val_targets) != val_source.shape[0]:
            raise ParameterError(
                f"X_val {val_source.shape} / y_val ({len(val_targets)}) do not match X "
                f"{source.shape}; expected the same n_mels and one label per clip."
            )
        val = (val_source, val_targets)
    settings = clf.settings()
    signature = {k: settings[k] for k in RESUME_KEYS}
    signature.update(shape=list(source.shape), classes=[str(c) for c in classes])
    return source, targets, classes, val, signature


def _restore(path: Path, *, signature, module, optimizer, scaler) -> tuple[FitState, dict | None]:
    ckpt = checkpoint.load_checkpoint(path)
    diff = [k for k in signature if ckpt.get("signature", {}).get(k) != signature[k]]
    if diff:
        k = diff[0]
        raise ParameterError(
            f"Checkpoint {path} was written with different settings ({k}: "
            f"{ckpt.get('signature', {}).get(k)!r} != {signature[k]!r}); delete it or pass "
            "resume=False to start over."
        )
    if set(ckpt["model"]) != set(module.state_dict()):  # e.g. written by an older version
        raise ParameterError(
            f"Checkpoint {path} holds other layers than this version's {signature['model']} "
            "builds; delete it or pass resume=False to start over."
        )
    module.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    return FitState(**ckpt["state"]), ckpt["best_model"]


def _validate(clf, ctx: EpochContext) -> dict:
    nan = {"log_loss": math.nan, "macro_f1": math.nan, "accuracy": math.nan}
    if ctx.val is None:
        return nan
    rt, scores = ctx.runtime, None
    if rt.info.is_main:
        logits = loop.predict_logits(
            ctx.module, clf.eval_loader(ctx.val[0]), device=rt.device, use_amp=rt.use_amp
        )
        scores = loop.score_logits(logits, ctx.val[1], task=clf.task)
    return hdist.broadcast_object(scores) if rt.info.world_size > 1 else scores


def _track_best(clf, state: FitState, row: dict, module, best_model):
    """Update early-stopping bookkeeping; returns the (possibly new) best state dict."""
    val_loss = row["val_log_loss"]
    if not math.isfinite(row["train_loss"]):
        warnings.warn(
            f"Training loss is {row['train_loss']} at epoch {row['epoch']}; stopping and keeping "
            "the best weights so far (lower lr or check the inputs).",
            stacklevel=3,
        )
        state.stopped = True
        return best_model
    if math.isnan(val_loss) or val_loss < state.best_loss - 1e-6:
        state.best_loss = val_loss if not math.isnan(val_loss) else state.best_loss
        state.best_epoch, state.bad_epochs = row["epoch"], 0
        return checkpoint.cpu_state(module)
    state.bad_epochs += 1
    if clf.patience is not None and state.bad_epochs >= clf.patience:
        state.stopped = True
    return best_model


def _set_up(clf, rt: Runtime, X, y, X_val, y_val):
    """Build model, optimiser and loader, resume from a checkpoint; returns (EpochContext,
    TrainLoader, FitState, best state dict or None). Seeds epoch 0 before the weights are drawn."""
    source, targets, classes, val, signature = _prepare(clf, X, y, X_val, y_val)
    clf.classes_, clf.n_mels_ = np.asarray(classes), source.shape[1]
    runtime.seed_everything(clf.random_state, 0)
    module = clf.build_module(n_classes=len(classes), n_mels=source.shape[1]).to(rt.device)
    if hasattr(module, "set_rates"):  # multi-label: logits start at the training tag rates
        module.set_rates(targets)
    clf.chunk_frames_ = clf.resolve_chunk_frames(module)
    check_outputs(
        module,
        n_classes=len(classes),
        n_mels=source.shape[1],
        frames=clf.chunk_frames_,
        device=rt.device,
    )
    optimizer = torch.optim.AdamW(module.parameters(), lr=clf.lr, weight_decay=clf.weight_decay)
    scaler = runtime.grad_scaler(rt.device, rt.use_amp)
    state, best_model = FitState(), None
    ckpt = Path(clf.checkpoint_dir) / checkpoint.CHECKPOINT_NAME if clf.checkpoint_dir else None
    if ckpt is not None and clf.resume and ckpt.exists():
        state, best_model = _restore(
            ckpt, signature=signature, module=module, optimizer=optimizer, scaler=scaler
        )
    source, val = _place(clf, rt, source, val)
    train_module = module
    if rt.info.world_size > 1:
        hdist.barrier()
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        train_module = DistributedDataParallel(module, device_ids=ids)
    train = loaders.train_loader(
        source,
        targets,
        chunk_frames=clf.chunk_frames_,
        batch_size=clf.batch_size,
        num_workers=clf.num_workers,
        random_state=clf.random_state,
        info=rt.info,
    )
    total = clf.epochs * len(train.loader)

    def lr_fn(step):
        return loop.lr_at(step, total=total, peak=clf.lr, schedule=clf.schedule)

    weight = loop.class_weights(
        targets, task=clf.task, class_weight=clf.class_weight, classes=classes, device=rt.device
    )
    ctx = EpochContext(
        module=module,
        train_module=train_module,
        loader=train.loader,
        optimizer=optimizer,
        scaler=scaler,
        lr_fn=lr_fn,
        loss_kw={"weight": weight},
        runtime=rt,
        val=val,
        signature=signature,
        ckpt=ckpt,
    )
    return ctx, train, state, best_model


@torch.no_grad()
def check_outputs(module, *, n_classes: int, n_mels: int, frames: int, device) -> None:
    """Refuse a network whose output is not (batch, n_classes) logits, before any training
    (a user's model one logit short failed at its first step with torch's "Target 7 is out of
    bounds"). One forward of two silent chunks in eval mode: no weight, statistic or random
    state changes."""
    was_training = module.training
    module.eval()
    try:
        out = module(torch.zeros(2, n_mels, frames, device=device))
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ParameterError(
            f"the network maps a batch of 2 chunks of (n_mels {n_mels}, {frames} frames) to "
            f"{got}, not (2, {n_classes}) logits, one per class; its last layer needs "
            f"n_classes={n_classes} outputs (the factory is given n_classes)"
        )


def _place(clf, rt: Runtime, source, val):
    """The training and validation log-mels, both moved to the device's memory or neither
    (``clf.data_on_device``, :func:`harness.training.resident.wanted`)."""
    if val is None:
        (source,) = resident.place([source], setting=clf.data_on_device, device=rt.device)
        return source, None
    source, val_source = resident.place(
        [source, val[0]], setting=clf.data_on_device, device=rt.device
    )
    return source, (val_source, val[1])


def run_fit(clf, X, y, *, X_val=None, y_val=None):
    """Train ``clf`` (a NeuralClassifier) in place; see ``NeuralClassifier.fit``.

    Sets ``classes_``, ``n_mels_``, ``chunk_frames_``, ``module_``, ``history_`` (one row per
    epoch, columns ``HISTORY_COLUMNS``), ``best_epoch_`` and ``stopped_early_``; returns ``clf``.
    """
    with runtime.threads(clf.num_threads):
        return _fit(clf, X, y, X_val, y_val)


def _fit(clf, X, y, X_val, y_val):
    rt = runtime.setup(device=clf.device, amp=clf.amp, ddp=clf.ddp)
    ctx, train, state, best_model = _set_up(clf, rt, X, y, X_val, y_val)
    enabled = clf.progress if rt.info.is_main else False
    name = clf.model if isinstance(clf.model, str) else "model"
    with EpochProgress(
        enabled=enabled, epochs=clf.epochs, steps=len(train.loader), start=state.epoch, name=name
    ) as bar:
        for epoch in range(state.epoch + 1, clf.epochs + 1):
            if state.stopped:
                break
            runtime.seed_everything(clf.random_state, epoch)
            train.set_epoch(epoch)
            best_model = train_one_epoch(clf, epoch, state, best_model, ctx, bar)
    _finish(clf, ctx.module, state, best_model, rt.info)
    return clf


def train_one_epoch(clf, epoch: int, state: FitState, best_model, ctx: EpochContext, bar):
    """Train, validate and checkpoint epoch ``epoch``; returns the best state dict so far."""
    started = time.perf_counter()
    settings = clf.get_params(deep=False)
    train_loss, grad_norm, lr, state.step = loop.train_epoch(
        ctx.train_module,
        ctx.loader,
        optimizer=ctx.optimizer,
        scaler=ctx.scaler,
        device=ctx.runtime.device,
        settings=settings,
        lr_fn=ctx.lr_fn,
        step0=state.step,
        loss_kw=ctx.loss_kw,
        use_amp=ctx.runtime.use_amp,
        on_step=bar.step,
    )
    if ctx.runtime.info.world_size > 1:  # every rank logs the global mean
        train_loss = hdist.mean_across_ranks(train_loss)
    scores = _validate(clf, ctx)
    row = {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_log_loss": scores["log_loss"],
        "val_macro_f1": scores["macro_f1"],
        "val_accuracy": scores["accuracy"],
        "lr": lr,
        "grad_norm": grad_norm,
        "seconds": time.perf_counter() - started,
    }
    state.history.append(row)
    state.epoch = epoch
    best_model = _track_best(clf, state, row, ctx.module, best_model)
    bar.epoch_done(row)
    if ctx.ckpt is not None and ctx.runtime.info.is_main:
        payload = {
            "format": 1,
            "signature": ctx.signature,
            "state": asdict(state),
            "model": checkpoint.cpu_state(ctx.module),
            "optimizer": ctx.optimizer.state_dict(),
            "scaler": ctx.scaler.state_dict(),
            "best_model": best_model,
        }
        checkpoint.save_atomic(payload, ctx.ckpt)
    return best_model


def _finish(clf, module, state: FitState, best_model, info: hdist.DistInfo) -> None:
    if best_model is None and state.epoch == 0:
        raise DataError("No epoch was trained (epochs=0?); set epochs >= 1.")
    if best_model is not None:
        module.load_state_dict(best_model)
    if info.world_size > 1:
        hdist.broadcast_module(module)
    module.eval()
    clf.module_ = module
    clf.history_ = pd.DataFrame(state.history, columns=list(HISTORY_COLUMNS))
    clf.best_epoch_ = int(state.best_epoch)
    clf.stopped_early_ = bool(state.stopped)
