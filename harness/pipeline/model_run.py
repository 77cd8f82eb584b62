"""Fit one registered model on prepared data, calibrate it, score it and save what it produced.

Baselines (scikit-learn pipelines) read the MFCC-140 table from the feature cache; neural models
read the log-mel arrays. Both end in the same place: probabilities per group (validation, test,
challenge), temperature-scaled on validation, scored with :mod:`harness.scoring.metrics.single`, and written to
``<run_dir>/models/<name>/``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from harness.data.prepared import CHALLENGE_GROUP, PreparedData
from harness.errors import DataError, ParameterError
from harness.registry import get_entry, load_target

REFERENCE_MODELS = ("uniform", "prior")  # reference rows: reported as they are, never calibrated
# Per-model training settings of the default run, chosen on the default synthetic set (see
# models/crnn.py for the CRNN's shape): the compact CNN still improved at epoch 15 (30: test log
# loss 0.66 instead of 0.93). The CRNN: 45 epochs on 6 s chunks (the estimator's default 256
# frames; 8 averaged at evaluation) with SpecAugment and mixup, and no early stopping, because
# its validation loss jumps while the one-cycle learning rate is high (patience 8 stopped two
# variants at epochs 13 and 24 of 45). Mixup stops it from keying on an artist's constant
# noise layer (models/crnn.py). The short-chunk CNN trains its whole schedule too (stopped
# early at 40 s: val log loss 0.29).
NEURAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 30},
    "crnn": {
        "spec_augment": True,
        "mixup": 0.3,
        "epochs": 45,
        "patience": None,
        "n_eval_chunks": 8,
    },
    # 60 epochs: val log loss 0.07 (40: 0.25); 8 x 3.7 s chunks cover the 29 s clip
    "short-chunk": {"epochs": 60, "patience": None, "n_eval_chunks": 8},
}
FAILED_STATUSES = ("missing", "empty", "corrupt", "failed")
# A clip that decodes to digital silence carries no genre: models neither train nor predict on
# it, and its prediction is the training prior (as for a clip that failed to decode). The
# reference rows (uniform, prior) ignore their input and predict it like any other clip.
NO_SIGNAL_STATUSES = ("silent",)


@dataclass
class FeatureStore:
    """Where a run's features are: the extraction status table and the cache settings."""

    status: pd.DataFrame
    cache_dir: Path
    logmel: Any  # harness.features.LogMelConfig
    decode: Any = None  # harness.data.audio.DecodeConfig the statuses were computed with
    feature_set: str = "mfcc"
    table: pd.DataFrame | None = None  # features given directly (official features.csv)


@dataclass
class ModelOutcome:
    """What fitting one model produced: a leaderboard row and per-group predictions."""

    name: str
    row: dict[str, Any]
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    estimator: Any = None
    error: str | None = None


def usable_keys(
    data: PreparedData, features: FeatureStore, group: str, *, silent: bool = False
) -> pd.Index:
    """Keys of ``group`` a model sees: clips that decoded and are not digital silence.

    Missing, empty, corrupt and failed clips are always excluded; ``silent=True`` keeps the
    silent ones (for the reference rows, which ignore their input).
    """
    keys = data.keys(group)
    status = features.status["status"].reindex(keys)
    excluded = FAILED_STATUSES if silent else FAILED_STATUSES + NO_SIGNAL_STATUSES
    return keys[~status.isin(excluded).to_numpy() & status.notna().to_numpy()]


def silent_keys(data: PreparedData, features: FeatureStore, group: str) -> pd.Index:
    """Keys of ``group`` whose clip decoded to digital silence (no genre to recognise)."""
    keys = data.keys(group)
    status = features.status["status"].reindex(keys)
    return keys[status.isin(NO_SIGNAL_STATUSES).to_numpy()]


def training_prior(data: PreparedData) -> np.ndarray:
    """The best prediction without audio: label frequencies of the training split.

    Returns
    -------
    np.ndarray, shape (len(data.classes),)
        Class frequencies summing to 1 (single-label), or the fraction of training tracks
        tagged with each genre (multi-label).
    """
    labels = data.labels.reindex(data.keys("training")).dropna()
    if data.task == "genre_top":
        counts = labels.value_counts(normalize=True)
        return counts.reindex(data.classes, fill_value=0.0).to_numpy(dtype=np.float64)
    return labels[list(data.classes)].mean(axis=0).to_numpy(dtype=np.float64)


def group_inputs(
    data: PreparedData, features: FeatureStore, group: str, *, kind: str, keys: pd.Index
) -> Any:
    """Model inputs for ``keys`` of one group: a feature matrix or a lazy log-mel view.

    Returns
    -------
    np.ndarray of shape (n, n_features) for baselines, or a lazy
    :class:`harness.training.chunks.RowSubset` of shape (n, n_mels, n_frames) float16 dB (rows
    read from the memory-mapped cache on access) for neural models.
    """
    from harness import features as feats

    if kind == "baseline":
        table = features.table
        if table is None:
            table = feats.load_feature_table(
                features.cache_dir, keys=list(keys), feature_set=features.feature_set
            )
        return table.loc[list(keys)].to_numpy(dtype=np.float64)
    from harness.training.chunks import RowSubset

    logmel = feats.load_logmel(features.cache_dir, group=group, logmel=features.logmel)
    rows = logmel.index["row"].reindex(keys).to_numpy()
    return RowSubset(logmel.data, rows)


def targets(data: PreparedData, keys: pd.Index) -> np.ndarray:
    """Labels for ``keys``: genre names (single-label) or a multi-hot matrix (multi-label)."""
    if data.task == "genre_top":
        return data.labels.reindex(keys).to_numpy(dtype=object).astype(str)
    return data.labels.reindex(keys).to_numpy(dtype=np.int8)


@dataclass(frozen=True)
class FitOptions:
    """How to build and fit a model: seed, smoke run, device, setting overrides, DDP, resume.

    ``params`` are keyword overrides of the estimator (a baseline factory's arguments, or
    :class:`harness.training.estimator.NeuralClassifier` settings such as ``epochs`` or ``model_params``);
    they win over the defaults of the run. ``checkpoint_dir`` is where a neural model writes
    ``last.pt`` after every epoch and resumes from it.
    """

    seed: int = 0
    quick: bool = False
    device: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    ddp: bool = False
    checkpoint_dir: Path | None = None


def build_estimator(name: str, *, task: str, options: FitOptions = FitOptions()) -> Any:
    """The estimator for a registered name: a baseline pipeline or a NeuralClassifier."""
    entry = get_entry(name)
    if entry.kind == "baseline":
        if options.ddp:
            raise ParameterError(f"{name} is a scikit-learn baseline; --ddp trains neural models.")
        return _construct(name, load_target(entry.target), random_state=options.seed,
                          **options.params)  # fmt: skip
    from harness.training.estimator import NeuralClassifier

    params: dict[str, Any] = {"task": "single" if task == "genre_top" else "multi"}
    params.update(NEURAL_DEFAULTS.get(name, {}))
    params.update(options.params)
    if options.quick:
        params["epochs"] = 2
    params.update(random_state=options.seed, device=options.device, ddp=options.ddp,
                  checkpoint_dir=options.checkpoint_dir)  # fmt: skip
    return _construct(name, NeuralClassifier, model=name, **params)


def _construct(name: str, factory: Any, **params: Any) -> Any:
    """``factory(**params)``, with an unknown setting reported as one line naming it."""
    try:
        return factory(**params)
    except TypeError as exc:
        raise ParameterError(
            f"{name}: a setting in [params.{name}] is not accepted ({exc}); see the "
            "docstring of the model's factory for its settings"
        ) from exc


def logits_of(estimator: Any, X: Any) -> np.ndarray:
    """Pre-softmax scores: neural logits, or log-probabilities for a baseline, shape (n, C)."""
    if hasattr(estimator, "decision_logits"):
        return np.asarray(estimator.decision_logits(X), dtype=np.float64)
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    return np.log(np.clip(proba, 1e-15, 1.0))


def run_model(
    name: str,
    data: PreparedData,
    features: FeatureStore,
    *,
    out_dir: Path,
    options: FitOptions = FitOptions(),
) -> ModelOutcome:
    """Fit, calibrate, score and save one model; a failure is caught and reported in the row.

    Parameters
    ----------
    out_dir : Path
        ``<run_dir>/models/<name>``; receives the fitted model, predictions and history.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run_model(name, data, features, out_dir=out_dir, options=options)
    except Exception as exc:  # one failing model must not stop the others
        if options.ddp:  # ... except under DDP: the other ranks would wait for it forever
            raise
        (out_dir / "error.txt").write_text(traceback.format_exc(), "utf-8")
        row = {"model": name, "status": f"failed: {type(exc).__name__}: {exc}"[:200]}
        return ModelOutcome(name=name, row=row, error=str(exc))


@dataclass
class FittedModel:
    """A fitted estimator and the training/validation inputs it was fitted on."""

    estimator: Any
    kind: str
    val_keys: pd.Index
    X_val: Any
    n_train: int
    n_excluded: int
    train_seconds: float


def fit_model(
    name: str, data: PreparedData, features: FeatureStore, *, options: FitOptions
) -> FittedModel:
    """Build and fit one model on the usable training clips (validation for early stopping).

    Under DDP every rank calls this; the fit itself synchronises the ranks.
    """
    kind = get_entry(name).kind
    silent = name in REFERENCE_MODELS
    train_keys, X_train = _inputs(data, features, "training", kind=kind, silent=silent)
    val_keys, X_val = _inputs(data, features, "validation", kind=kind, silent=silent)
    if kind == "baseline" and len(train_keys):  # e.g. a silent clip has NaN skew: leave it out
        finite = np.isfinite(X_train).all(axis=1)
        train_keys, X_train = train_keys[finite], X_train[finite]
    if len(train_keys) == 0 or len(val_keys) == 0:
        raise DataError(
            f"{name}: no usable clips in the {'training' if len(train_keys) == 0 else 'validation'}"
            " split; check the decode status table (fma-harness data decode-check)"
        )
    y_train, y_val = targets(data, train_keys), targets(data, val_keys)
    estimator = build_estimator(name, task=data.task, options=options)
    started = time.perf_counter()
    if kind == "neural":
        estimator.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    else:
        estimator.fit(X_train, y_train)
    return FittedModel(
        estimator=estimator,
        kind=kind,
        val_keys=val_keys,
        X_val=X_val,
        n_train=len(train_keys),
        n_excluded=len(data.keys("training")) - len(train_keys),
        train_seconds=time.perf_counter() - started,
    )


def _run_model(
    name: str,
    data: PreparedData,
    features: FeatureStore,
    *,
    out_dir: Path,
    options: FitOptions,
) -> ModelOutcome:
    from harness.scoring.groups import score_groups

    fitted = fit_model(name, data, features, options=options)
    estimator, kind = fitted.estimator, fitted.kind
    val_keys, X_val = fitted.val_keys, fitted.X_val
    reference = name in REFERENCE_MODELS
    logits = {"validation": (val_keys, logits_of(estimator, X_val))}
    for group in ("test", CHALLENGE_GROUP):
        keys, X = _inputs(data, features, group, kind=kind, silent=reference)
        if len(keys):
            logits[group] = (keys, logits_of(estimator, X))
    no_signal = {}
    if not reference:
        groups = ("validation", "test", CHALLENGE_GROUP)
        no_signal = {g: silent_keys(data, features, g) for g in groups}

    row, predictions = score_groups(
        data,
        logits,
        classes=list(estimator.classes_),
        task=data.task,
        calibrate=not reference,
        no_signal=no_signal,
    )
    row = {
        "model": name,
        "status": "ok",
        **row,
        "train_seconds": round(fitted.train_seconds, 2),
        "n_train": fitted.n_train,
        "n_train_excluded": fitted.n_excluded,
        "n_silent_as_prior": sum(len(keys) for keys in no_signal.values()),
    }
    save_outputs(estimator, name=name, out_dir=out_dir, predictions=predictions, kind=kind)
    return ModelOutcome(name=name, row=row, predictions=predictions, estimator=estimator)


def _inputs(
    data: PreparedData, features: FeatureStore, group: str, *, kind: str, silent: bool = False
):
    keys = usable_keys(data, features, group, silent=silent)
    if len(keys) == 0:
        return keys, None
    return keys, group_inputs(data, features, group, kind=kind, keys=keys)


def save_outputs(
    estimator: Any,
    *,
    name: str,
    out_dir: Path,
    predictions: dict[str, dict[str, np.ndarray]],
    kind: str,
) -> None:
    """Write the fitted model, its per-group predictions and (neural) its training history."""
    if kind == "neural":
        estimator.save(out_dir / "model.pt")
        if getattr(estimator, "history_", None) is not None:
            estimator.history_.to_csv(out_dir / "history.csv", index=False)
    else:
        joblib.dump(estimator, out_dir / "model.joblib")
    for group, arrays in predictions.items():
        np.savez_compressed(out_dir / f"predictions_{group}.npz", **arrays)
