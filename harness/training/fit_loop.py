"""The epoch loop behind :meth:`harness.training.estimator.NeuralClassifier.fit`: set-up, resume from a
checkpoint, train, validate, early-stop, checkpoint, and finish with the best weights.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.errors import DataError, ParameterError
from harness.training import distributed as hdist
from harness.training import steps as loop
from harness.training.chunks import ArraySource, encode_targets
from harness.training.progress import EpochProgress


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


def _prepare(clf, X, y, X_val, y_val):
    from harness.training.estimator import RESUME_KEYS

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
    ckpt = loop.load_checkpoint(path)
    diff = [k for k in signature if ckpt.get("signature", {}).get(k) != signature[k]]
    if diff:
        k = diff[0]
        raise ParameterError(
            f"Checkpoint {path} was written with different settings ({k}: "
            f"{ckpt.get('signature', {}).get(k)!r} != {signature[k]!r}); delete it or pass "
            "resume=False to start over."
        )
    module.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    return FitState(**ckpt["state"]), ckpt["best_model"]


def _validate(clf, module, val, *, device, use_amp, info) -> dict:
    nan = {"log_loss": math.nan, "macro_f1": math.nan, "accuracy": math.nan}
    if val is None:
        return nan
    scores = None
    if info.is_main:
        logits = loop.predict_logits(module, clf._eval_loader(val[0]), device=device,
                                     use_amp=use_amp)  # fmt: skip
        scores = loop.score_logits(logits, val[1], task=clf.task)
    return hdist.broadcast_object(scores) if info.world_size > 1 else scores


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
        return loop.cpu_state(module)
    state.bad_epochs += 1
    if clf.patience is not None and state.bad_epochs >= clf.patience:
        state.stopped = True
    return best_model


def run_fit(clf, X, y, *, X_val=None, y_val=None):
    """Train ``clf`` (a NeuralClassifier) in place; see ``NeuralClassifier.fit``."""
    device, use_amp, info = clf._runtime()
    source, targets, classes, val, signature = _prepare(clf, X, y, X_val, y_val)
    clf.classes_, clf.n_mels_ = np.asarray(classes), source.shape[1]
    clf._seed(0)
    module = clf.build_module(n_classes=len(classes), n_mels=source.shape[1]).to(device)
    clf.chunk_frames_ = clf.resolve_chunk_frames(module)
    optimizer = torch.optim.AdamW(module.parameters(), lr=clf.lr, weight_decay=clf.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    state, best_model = FitState(), None
    ckpt = Path(clf.checkpoint_dir) / loop.CHECKPOINT_NAME if clf.checkpoint_dir else None
    if ckpt is not None and clf.resume and ckpt.exists():
        state, best_model = _restore(ckpt, signature=signature, module=module,
                                     optimizer=optimizer, scaler=scaler)  # fmt: skip
    if info.world_size > 1:
        hdist.barrier()
    train_module = module
    if info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        train_module = DistributedDataParallel(module, device_ids=ids)
    loader, dataset, sampler, generator = clf._train_loader(source, targets, info)
    total = clf.epochs * len(loader)

    def lr_fn(step):
        return loop.lr_at(step, total=total, peak=clf.lr, schedule=clf.schedule)

    ctx = {"device": device, "use_amp": use_amp, "info": info, "val": val, "lr_fn": lr_fn,
           "loss_kw": clf._loss_weight(targets, len(classes), device), "optimizer": optimizer,
           "scaler": scaler, "signature": signature, "ckpt": ckpt}  # fmt: skip
    enabled = clf.progress if info.is_main else False
    name = clf.model if isinstance(clf.model, str) else "model"
    with EpochProgress(enabled=enabled, epochs=clf.epochs, steps=len(loader), start=state.epoch,
                       name=name) as bar:  # fmt: skip
        for epoch in range(state.epoch + 1, clf.epochs + 1):
            if state.stopped:
                break
            clf._seed(epoch)
            dataset.set_epoch(epoch)
            generator.manual_seed(int(clf.random_state) * 7919 + epoch)
            if sampler is not None:
                sampler.set_epoch(epoch)
            best_model = _one_epoch(clf, epoch, state, best_model, module, train_module, loader,
                                    ctx, bar)  # fmt: skip
    _finish(clf, module, state, best_model, info)
    return clf


def _one_epoch(clf, epoch, state, best_model, module, train_module, loader, ctx, bar):
    started = time.perf_counter()
    settings = clf.get_params(deep=False)
    train_loss, grad_norm, lr, state.step = loop.train_epoch(
        train_module, loader, optimizer=ctx["optimizer"], scaler=ctx["scaler"],
        device=ctx["device"], settings=settings, lr_fn=ctx["lr_fn"], step0=state.step,
        loss_kw=ctx["loss_kw"], on_step=bar.step,
    )  # fmt: skip
    if ctx["info"].world_size > 1:  # every rank logs the global mean
        train_loss = hdist.mean_across_ranks(train_loss)
    scores = _validate(clf, module, ctx["val"], device=ctx["device"], use_amp=ctx["use_amp"],
                       info=ctx["info"])  # fmt: skip
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
    best_model = _track_best(clf, state, row, module, best_model)
    bar.epoch_done(row)
    if ctx["ckpt"] is not None and ctx["info"].is_main:
        payload = {
            "format": 1,
            "signature": ctx["signature"],
            "state": asdict(state),
            "model": loop.cpu_state(module),
            "optimizer": ctx["optimizer"].state_dict(),
            "scaler": ctx["scaler"].state_dict(),
            "best_model": best_model,
        }
        loop.save_atomic(payload, ctx["ckpt"])
    return best_model


def _finish(clf, module, state: FitState, best_model, info: hdist.DistInfo) -> None:
    from harness.training.estimator import HISTORY_COLUMNS

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
