"""Model sanity checks for the report ("is the network wired and trainable at all?").

Each check takes a configured (unfitted or fitted)
:class:`~harness.training.estimator.NeuralClassifier` and plain arrays, and returns a plain dict
``{name, passed, value, expected, detail}`` with python values only, ready for JSON:

- ``init_loss``: loss at initialisation is close to ln C (the head starts near zero);
- ``overfit_batch``: a small fixed batch can be fitted to near-zero loss;
- ``shuffled_labels``: trained on shuffled labels, validation accuracy stays at chance;
- ``gradients``: one backward pass reaches every parameterised layer, finite and non-zero;
- ``finite``: a fitted model has finite weights and a finite training-loss history.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import clone

from harness.training import runtime
from harness.training.chunks import ArraySource, EvalChunks, encode_targets
from harness.training.steps import compute_loss


def _result(name: str, passed: bool, value, expected, detail: str) -> dict:
    value = float(value) if isinstance(value, (int, float, np.floating)) else value
    return {
        "name": name,
        "passed": bool(passed),
        "value": value,
        "expected": expected,
        "detail": detail,
    }


def _fixed_batch(clf, X, y, *, n: int, candidates: int = 5):
    """First ``n`` clips, each its liveliest chunk, as tensors; targets encoded like fit().

    Of ``candidates`` evenly spaced chunks, the one with the largest spread of values: a clip
    shorter than the log-mel window is padded with a constant, and a batch of constant chunks
    cannot be fitted by any network, which would fail ``overfit_batch`` for the data's sake.
    """
    targets, classes = encode_targets(y, task=clf.task, classes=clf.classes)
    source = ArraySource(X)
    probe = clf.build_module(n_classes=len(classes), n_mels=source.shape[1])
    chunks = EvalChunks(source, chunk_frames=clf.resolve_chunk_frames(probe), n_chunks=candidates)
    idx = range(min(n, len(targets)))
    x = torch.as_tensor(np.stack([_liveliest(chunks[i]) for i in idx]))
    return x, torch.as_tensor(targets[: len(idx)]), classes, source.shape[1]


def _liveliest(chunks: np.ndarray) -> np.ndarray:
    """The chunk (n_mels, chunk_frames) of ``chunks`` (k, n_mels, chunk_frames) with max std."""
    spread = chunks.reshape(len(chunks), -1).astype(np.float32).std(axis=1)
    return chunks[int(np.argmax(spread))]


def _fresh_module(clf, *, n_classes: int, n_mels: int):
    torch.manual_seed(int(clf.random_state))
    return clf.build_module(n_classes=n_classes, n_mels=n_mels)


def check_init_loss(clf, X, y, *, n: int = 32, tolerance: float = 0.15) -> dict:
    """Loss of the untrained network vs ln C (single) or ln 2 (multi, per label)."""
    x, t, classes, n_mels = _fixed_batch(clf, X, y, n=n)
    module = _fresh_module(clf, n_classes=len(classes), n_mels=n_mels).train()
    with torch.no_grad():
        loss = float(compute_loss(module(x), t, task=clf.task))
    expected = math.log(len(classes)) if clf.task == "single" else math.log(2)
    ok = abs(loss - expected) <= tolerance * expected
    return _result(
        "init_loss",
        ok,
        loss,
        expected,
        f"loss at init {loss:.3f} vs {expected:.3f} (within {tolerance:.0%})",
    )


def check_overfit_batch(clf, X, y, *, n: int = 8, steps: int = 150, threshold: float = 0.1):
    """Train on one fixed batch of ``n`` chunks (no augmentation); final loss must be small."""
    x, t, classes, n_mels = _fixed_batch(clf, X, y, n=n)
    module = _fresh_module(clf, n_classes=len(classes), n_mels=n_mels).train()
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    loss = torch.tensor(math.nan)
    for _ in range(steps):
        opt.zero_grad()
        loss = compute_loss(module(x), t, task=clf.task)
        loss.backward()
        opt.step()
        if float(loss.detach()) < threshold / 4:
            break
    value = float(loss.detach())
    return _result(
        "overfit_batch",
        value < threshold,
        value,
        f"< {threshold}",
        f"loss {value:.4f} after fitting {len(t)} chunks",
    )


def check_shuffled_labels(clf, X, y, X_val, y_val, *, epochs: int = 5) -> dict:
    """Fit a copy on shuffled training labels; validation accuracy must stay near chance."""
    rng = np.random.default_rng(int(clf.random_state))
    y_shuffled = np.asarray(y)[rng.permutation(len(y))]
    copy = clone(clf).set_params(
        epochs=epochs, checkpoint_dir=None, progress=False, patience=None, ddp=False
    )
    copy.fit(X, y_shuffled, X_val=X_val, y_val=y_val)
    pred = copy.predict(X_val)
    if clf.task == "single":
        acc = float((pred == np.asarray(y_val)).mean())
        counts = np.unique(np.asarray(y_val), return_counts=True)[1]
        chance = float(counts.max() / counts.sum())
    else:
        truth = np.asarray(y_val)
        acc = float((pred == truth).mean())
        chance = float(np.maximum(truth.mean(axis=0), 1 - truth.mean(axis=0)).mean())
    margin = 3 * math.sqrt(max(chance * (1 - chance), 0.01) / len(pred)) + 0.05
    return _result(
        "shuffled_labels",
        acc <= chance + margin,
        acc,
        f"<= {chance + margin:.3f}",
        f"val accuracy {acc:.3f} with shuffled labels; chance {chance:.3f}",
    )


def check_gradients(clf, X, y, *, n: int = 16) -> dict:
    """One forward/backward: every module with parameters gets finite, non-zero gradients."""
    x, t, classes, n_mels = _fixed_batch(clf, X, y, n=n)
    module = _fresh_module(clf, n_classes=len(classes), n_mels=n_mels).train()
    compute_loss(module(x), t, task=clf.task).backward()
    bad, n_layers = [], 0
    for name, sub in module.named_modules():
        params = [p for p in sub.parameters(recurse=False) if p.requires_grad]
        if not params:
            continue
        n_layers += 1
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            bad.append(f"{name}: no gradient")
        elif not all(torch.isfinite(g).all() for g in grads):
            bad.append(f"{name}: non-finite")
        elif sum(float(g.abs().sum()) for g in grads) == 0:
            bad.append(f"{name}: zero")
    detail = "; ".join(bad[:5]) if bad else f"all {n_layers} parameterised layers receive gradients"
    return _result("gradients", not bad, n_layers - len(bad), n_layers, detail)


def check_finite(clf) -> dict:
    """A fitted estimator: finite weights and finite per-epoch training loss."""
    tensors = list(clf.module_.state_dict().items())
    bad = [k for k, v in tensors if v.is_floating_point() and not torch.isfinite(v).all()]
    losses = clf.history_["train_loss"].to_numpy(dtype=float)
    nan_epochs = int((~np.isfinite(losses)).sum())
    ok = not bad and nan_epochs == 0
    detail = (
        f"{len(bad)} non-finite tensors {bad[:3]}; {nan_epochs} epochs with non-finite loss"
        if not ok
        else f"{len(tensors)} tensors and {len(losses)} epoch losses finite"
    )
    return _result("finite", ok, len(bad) + nan_epochs, 0, detail)


def run_sanity_checks(clf, X, y, X_val, y_val, *, shuffled_epochs: int = 5) -> list[dict]:
    """All checks, with ``clf``'s torch threads (``num_threads``); ``clf`` fitted (for
    ``finite``) or not (that one is then skipped)."""
    with runtime.threads(clf.num_threads):
        results = [
            check_init_loss(clf, X, y),
            check_gradients(clf, X, y),
            check_overfit_batch(clf, X, y),
            check_shuffled_labels(clf, X, y, X_val, y_val, epochs=shuffled_epochs),
        ]
    if hasattr(clf, "module_"):
        results.append(check_finite(clf))
    return results
