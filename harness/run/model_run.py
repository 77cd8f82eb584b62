"""Fit one registered model on prepared data, calibrate it, score it and save what it produced.

Feature-table models (scikit-learn pipelines) read the MFCC-140 table from the feature cache;
log-mel models read the log-mel arrays (:mod:`harness.bundles.inputs` holds what differs).
Both end in the same place: probabilities per group (validation, test, challenge),
temperature-scaled on validation, scored with :mod:`harness.scoring.metrics`, and written to
``<run_dir>/models/<name>/``, with a self-contained bundle of it in ``bundle/``
(:mod:`harness.bundles.bundle`). Multi-label (``genres_all``): the logits are per-genre log-odds,
their columns the task's genres in order (the multi-hot target's columns).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.bundles.bundle import bundle_spec, calibration_of, write_bundle
from harness.bundles.estimator_file import save_estimator
from harness.bundles.inputs import (
    FeatureTableModel,
    LogMelModel,
    is_multilabel,
    model_input,
)
from harness.data.prepared import CHALLENGE_GROUP, PreparedData, targets
from harness.errors import DataError
from harness.features.extracted import ExtractedFeatures, silent_keys, usable_keys
from harness.registry import LOGMEL, REFERENCE_MODELS, ModelEntry, get_entry, spectrogram_set
from harness.run_layout import ModelFolder
from harness.scoring.groups import score_groups


@dataclass
class ModelOutcome:
    """What fitting one model produced: a leaderboard row and per-group predictions."""

    name: str
    row: dict[str, Any]
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    estimator: Any = None
    error: str | None = None


@dataclass(frozen=True)
class FitOptions:
    """How to build and fit a model: seed, smoke run, device, setting overrides, DDP, resume.

    ``params`` are keyword overrides of the estimator (a baseline factory's arguments, or
    :class:`harness.training.estimator.NeuralClassifier` settings such as ``epochs`` or
    ``model_params``); they win over the model's ``training_defaults``. ``checkpoint_dir`` is
    where a neural model writes ``last.pt`` after every epoch and resumes from it.
    """

    seed: int = 0
    quick: bool = False
    preset: str = "full"  # the models' training schedule (RunConfig.preset)
    device: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    ddp: bool = False
    checkpoint_dir: Path | None = None
    entry: ModelEntry | None = None  # the model's registry entry, as the run resolved it


def entry_of(name: str, options: FitOptions) -> ModelEntry:
    """The registry entry ``options`` carry for ``name``, else looked up (a caller outside a
    run: a test, a notebook)."""
    return options.entry if options.entry is not None else get_entry(name)


def build_estimator(name: str, *, task: str, options: FitOptions = FitOptions()) -> Any:
    """The estimator for a registered name or ``module:attr`` target, with the model's training
    defaults and ``options.params`` applied."""
    entry = entry_of(name, options)
    return model_input(entry).build(entry, task=task, options=options)


def run_model(
    name: str,
    data: PreparedData,
    features: ExtractedFeatures,
    *,
    out_dir: Path,
    options: FitOptions = FitOptions(),
    bundle: bool = True,
) -> ModelOutcome:
    """Fit, calibrate, score and save one model; a failure is caught and reported in the row.

    Parameters
    ----------
    out_dir : Path
        ``<run_dir>/models/<name>``; receives the fitted model, predictions and history.
    bundle : bool
        Also write the model bundle (False for the further seeds of a multi-seed run).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run_model(name, data, features, out_dir=out_dir, options=options, bundle=bundle)
    except Exception as exc:  # one failing model must not stop the others
        if options.ddp:  # ... except under DDP: the other ranks would wait for it forever
            raise
        ModelFolder(out_dir).error.write_text(traceback.format_exc(), "utf-8")
        row = {"model": name, "status": f"failed: {type(exc).__name__}: {exc}"[:200]}
        return ModelOutcome(name=name, row=row, error=str(exc))


@dataclass
class FittedModel:
    """A fitted estimator, its input kind and the validation inputs it was fitted with."""

    estimator: Any
    model_input: FeatureTableModel | LogMelModel
    val_keys: pd.Index
    X_val: Any
    n_train: int
    n_excluded: int
    train_seconds: float


def fit_model(
    name: str, data: PreparedData, features: ExtractedFeatures, *, options: FitOptions
) -> FittedModel:
    """Build and fit one model on the usable training clips (validation for early stopping).

    Under DDP every rank calls this; the fit itself synchronises the ranks.
    """
    kind = model_input(entry_of(name, options))
    silent = name in REFERENCE_MODELS
    train_keys, X_train = model_inputs_of(kind, data, features, "training", silent=silent)
    val_keys, X_val = model_inputs_of(kind, data, features, "validation", silent=silent)
    if len(train_keys):
        train_keys, X_train = kind.trainable(train_keys, X_train)
    if len(train_keys) == 0 or len(val_keys) == 0:
        raise DataError(
            f"{name}: no usable clips in the {'training' if len(train_keys) == 0 else 'validation'}"
            " split; check the decode status table (fma-harness data decode-check)"
        )
    y_train, y_val = targets(data, train_keys), targets(data, val_keys)
    estimator = build_estimator(name, task=data.task, options=options)
    started = time.perf_counter()
    kind.fit(estimator, X_train, y_train, X_val, y_val)
    return FittedModel(
        estimator=estimator,
        model_input=kind,
        val_keys=val_keys,
        X_val=X_val,
        n_train=len(train_keys),
        n_excluded=len(data.keys("training")) - len(train_keys),
        train_seconds=time.perf_counter() - started,
    )


def _run_model(
    name: str,
    data: PreparedData,
    features: ExtractedFeatures,
    *,
    out_dir: Path,
    options: FitOptions,
    bundle: bool = True,
) -> ModelOutcome:
    fitted = fit_model(name, data, features, options=options)
    estimator, kind = fitted.estimator, fitted.model_input
    reference = name in REFERENCE_MODELS
    task = data.task
    logits = {"validation": (fitted.val_keys, kind.logits(estimator, fitted.X_val, task=task))}
    for group in ("test", CHALLENGE_GROUP):
        keys, X = model_inputs_of(kind, data, features, group, silent=reference)
        if len(keys):
            logits[group] = (keys, kind.logits(estimator, X, task=task))
    no_signal = {}
    if not reference:
        groups = ("validation", "test", CHALLENGE_GROUP)
        no_signal = {g: silent_keys(data, features, g) for g in groups}

    multi = is_multilabel(task)
    row, predictions = score_groups(
        data,
        logits,
        classes=list(data.classes) if multi else list(estimator.classes_),
        task=task,
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
    if multi:  # the notes go last, after the counts
        row["notes"] = "; ".join([row.pop("notes"), *fallback_notes(estimator, data.classes)])
    kind.save(estimator, out_dir)
    for group, arrays in predictions.items():
        np.savez_compressed(ModelFolder(out_dir).predictions(group), **arrays)
    if bundle:
        entry = entry_of(name, options)
        save_model_bundle(entry, estimator, data, features, predictions, out_dir=out_dir)
    return ModelOutcome(name=name, row=row, predictions=predictions, estimator=estimator)


def save_model_bundle(
    entry: ModelEntry,
    estimator: Any,
    data: PreparedData,
    features: ExtractedFeatures,
    predictions: dict[str, dict[str, np.ndarray]],
    *,
    out_dir: Path,
) -> Path:
    """``<out_dir>/bundle/``: the fitted model with everything ``fma-harness predict`` needs
    (:mod:`harness.bundles.bundle`)."""
    name = entry.name
    spec = bundle_spec(
        name,
        kind=entry.consumes,
        estimator=estimator,
        data=data,
        decode=features.decode,
        logmel=features.logmel,
        feature_set=spectrogram_set(entry) or LOGMEL,
        reference=name in REFERENCE_MODELS,
        calibration=calibration_of(data.task, predictions["validation"]),
    )
    if entry.is_neural:
        save = estimator.save
    else:

        def save(path: Path) -> None:
            save_estimator(estimator, path)

    return write_bundle(ModelFolder(out_dir).bundle, spec=spec, save_weights=save)


def fallback_notes(estimator: Any, classes: list[str]) -> list[str]:
    """A sentence naming the genres a one-vs-rest model predicts at their training frequency
    (:class:`~harness.bundles.inputs.OneVsRestTagger`), or none."""
    fallbacks = getattr(estimator, "fallbacks_", None) or {}
    if not fallbacks:
        return []
    named = ", ".join(f"{classes[c]} ({why})" for c, why in list(fallbacks.items())[:5])
    more = f", +{len(fallbacks) - 5} more" if len(fallbacks) > 5 else ""
    genres = "genre" if len(fallbacks) == 1 else "genres"
    return [f"{len(fallbacks)} {genres} at their training frequency: {named}{more}"]


def model_inputs_of(
    kind: FeatureTableModel | LogMelModel,
    data: PreparedData,
    features: ExtractedFeatures,
    group: str,
    *,
    silent: bool = False,
    keys: pd.Index | None = None,
) -> tuple[pd.Index, Any]:
    """The usable keys of ``group`` (or the given ``keys``) and the model's inputs for them
    (None when there are none); ``silent`` keeps silent clips (reference rows)."""
    if keys is None:
        keys = usable_keys(data, features, group, silent=silent)
    if len(keys) == 0:
        return keys, None
    return keys, kind.inputs(data, features, group, keys)
