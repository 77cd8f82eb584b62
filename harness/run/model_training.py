"""How a run trains each model: its fit options, the checkpoint it resumes from, and the model
sanity checks of a fitted neural model."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from harness import log
from harness.bundles.inputs import model_input
from harness.config.run_config import RunConfig
from harness.data.prepared import PreparedData, targets
from harness.features.extracted import ExtractedFeatures, usable_keys
from harness.registry import training_defaults
from harness.run.embeddings import model_embedding_stage
from harness.run.extraction import cache_keys
from harness.run.model_run import (
    FitOptions,
    ModelOutcome,
    build_estimator,
    model_inputs_of,
    run_model,
)
from harness.run.timing import StageTimes
from harness.run_layout import ModelFolder, RunLayout
from harness.storage import write_json_atomic
from harness.training.checkpoint import CHECKPOINT_NAME
from harness.training.sanity import run_sanity_checks

SANITY_SHUFFLED_EPOCHS = 4  # shuffled-label training: enough to show it stays at chance
SANITY_CLIPS = 192  # training clips the sanity checks sample (half as many validation clips)


def fit_options(
    config: RunConfig, data: PreparedData, features: ExtractedFeatures, name: str
) -> FitOptions:
    """How ``name`` is fitted in this run; neural models checkpoint into the cache."""
    params = config.params.get(name, {})
    entry = config.entry(name)
    checkpoint_dir = None
    if entry.is_neural:
        checkpoint_dir = checkpoint_dir_for(config, data, features, name)
    quick = config.training_preset == "quick"  # --quick, or preset = "quick" in run.toml
    return FitOptions(
        seed=config.seed,
        quick=quick,
        preset=config.training_preset,
        device=config.device,
        params=params,
        ddp=config.ddp,
        checkpoint_dir=checkpoint_dir,
        entry=entry,
    )


def checkpoint_dir_for(
    config: RunConfig, data: PreparedData, features: ExtractedFeatures, name: str
) -> Path:
    """``<cache>/checkpoints/<name>-<key>``: the key covers everything the training depends on
    (settings, seed, clips of each split, log-mel cache), so only the same training resumes."""
    identity = {
        "model": name,
        "task": config.task,
        "seed": config.seed,
        "quick": config.training_preset == "quick",
        "defaults": training_defaults(config.entry(name), preset=config.training_preset),
        "params": config.params.get(name, {}),
        "features": cache_keys(features),
        "training": [str(k) for k in data.keys("training")],
        "validation": [str(k) for k in data.keys("validation")],
        "classes": [str(c) for c in data.classes],
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return (
        Path(config.cache_dir) / "checkpoints" / f"{name}-{hashlib.sha256(blob).hexdigest()[:12]}"
    )


def train_one(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    name: str,
    times: StageTimes | None = None,
    *,
    sanity: bool = True,
) -> ModelOutcome:
    """Fit, score and save one model; a neural model resumes an interrupted training.

    ``times`` receives the stages ``<name>: train``, ``<name>: predict`` and, for a neural
    model, ``<name>: sanity`` (unless ``sanity`` is False: the caller runs
    :func:`untrained_sanity` apart) and ``<name>: embeddings``
    (:mod:`harness.run.embeddings`).
    """
    times = times if times is not None else StageTimes()
    log.info(f"Training {name} ...")
    outcome = fit_resumable(
        config,
        data,
        features,
        name,
        out_dir=RunLayout(run_dir).model(name).root,
        times=times,
        shown=name,
        stage=name,
    )
    if sanity and outcome.error is None and config.entry(name).is_neural:
        with times.stage(f"{name}: sanity"):
            model_dir = RunLayout(run_dir).model(name).root
            write_model_sanity(model_dir, config, outcome.estimator, data, features)
    model_embedding_stage(config, run_dir, name, outcome, data, features, times)
    log.info(f"  {name}: {outcome.row.get('status')}  {_validation_headline(outcome.row)}")
    return outcome


def fit_resumable(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    name: str,
    *,
    out_dir: Path,
    times: StageTimes,
    shown: str,
    stage: str,
    bundle: bool = True,
) -> ModelOutcome:
    """:func:`run_model` with the run's fit options, resuming an interrupted neural training
    from its checkpoint (removed once the model finished) and timing ``<stage>: train`` and
    ``<stage>: predict``; ``shown`` names the model in the log lines (e.g. "cnn (seed 1)")."""
    options = fit_options(config, data, features, name)
    log.detail(f"  {shown}: preset {options.preset}, settings {options.params or 'defaults'}")
    checkpoint = options.checkpoint_dir / CHECKPOINT_NAME if options.checkpoint_dir else None
    if checkpoint is not None and checkpoint.exists():
        log.info(f"  resuming {shown} from {checkpoint} (delete it to start over)")
    started = time.perf_counter()
    outcome = run_model(name, data, features, out_dir=out_dir, options=options, bundle=bundle)
    fit_and_predict = time.perf_counter() - started
    train_seconds = float(outcome.row.get("train_seconds") or 0.0)
    times.add(f"{stage}: train", train_seconds)
    times.add(f"{stage}: predict", max(fit_and_predict - train_seconds, 0.0))
    if outcome.error is None and checkpoint is not None:  # finished: nothing left to resume
        shutil.rmtree(checkpoint.parent, ignore_errors=True)
    return outcome


def _validation_headline(row: dict) -> str:
    """The task's main validation figure: log loss (single-label) or macro PR-AUC (tagging)."""
    for column, label in (("val_log_loss", "val log loss"), ("val_pr_auc_macro", "val PR-AUC")):
        value = row.get(column)
        if value is not None and value == value:  # present and not NaN
            return f"{label} {value:.4f}"
    return ""


def untrained_sanity(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    name: str,
    times: StageTimes,
) -> list[dict]:
    """Stage ``<name>: sanity`` without the fitted model: every check of
    :func:`sanity_results` but ``finite``, on the estimator ``name`` is fitted as (they train
    fresh copies of it), so that they can run while it trains. Add ``finite`` with
    :func:`~harness.training.sanity.check_finite` once it is fitted."""
    estimator = build_estimator(
        name, task=data.task, options=fit_options(config, data, features, name)
    )
    with times.stage(f"{name}: sanity"):
        return sanity_results(config, estimator, data, features)


def sanity_results(
    config: RunConfig, estimator, data: PreparedData, features: ExtractedFeatures
) -> list[dict]:
    """Quick model-sanity checks of a neural estimator (fitted: ``finite`` included); the fast
    and quick presets train the shuffled-label copy 2 epochs instead of 4.

    They train small copies of the model (one batch, shuffled labels), so they run on a seeded
    sample of at most ``SANITY_CLIPS`` training and validation clips (half as many outside
    ``--full``), read into memory once: their cost stays the same on fma_medium as on the
    synthetic set.
    """
    quick = config.training_preset != "full"
    kind = model_input(config.entry(estimator.model))  # the spectrograms the model reads
    rng = np.random.default_rng(config.seed)
    inputs = {}
    n_clips = SANITY_CLIPS // 2 if quick else SANITY_CLIPS
    for group, limit in (("training", n_clips), ("validation", n_clips // 2)):
        keys = usable_keys(data, features, group)
        if len(keys) > limit:
            keys = keys[np.sort(rng.choice(len(keys), size=limit, replace=False))]
        _, lazy = model_inputs_of(kind, data, features, group, keys=keys)
        inputs[group] = (np.stack([lazy[i] for i in range(len(keys))]), targets(data, keys))
    (X, y), (X_val, y_val) = inputs["training"], inputs["validation"]
    return run_sanity_checks(
        estimator, X, y, X_val, y_val, shuffled_epochs=2 if quick else SANITY_SHUFFLED_EPOCHS
    )


def write_model_sanity(
    model_dir: Path, config: RunConfig, estimator, data: PreparedData, features: ExtractedFeatures
) -> None:
    """:func:`sanity_results` of a fitted estimator, saved (:func:`save_sanity`)."""
    save_sanity(model_dir, sanity_results(config, estimator, data, features))


def save_sanity(model_dir: Path, results: list[dict]) -> None:
    """``<model_dir>/sanity.json``: model-sanity results (:func:`sanity_results`)."""
    write_json_atomic(ModelFolder(model_dir).sanity, results)
