"""The robustness stage (``--robustness``): every model re-scored on changed test audio.

After the models (and the ensemble) are scored, each usable test clip (decoded, not digital
silence: the clips the models predicted) is decoded once more with the run's settings, changed
by each audio change of :data:`harness.features.perturb.CHANGES` (pitch, tempo, noise, MP3,
gain) and featurised as the clean clips were (:mod:`harness.features.changed`, cached under
``<cache_dir>/robustness/``). Each model then predicts the changed clips through its own input
kind (:class:`~harness.bundles.inputs.FeatureTableModel` on the MFCC-140 rows,
:class:`~harness.bundles.inputs.LogMelModel` on the log-mel arrays) and its
probabilities are calibrated with the temperature it got on validation, as the leaderboard's
``test_log_loss_calibrated`` and the submissions are. The ``ensemble`` row averages its
members' calibrated probabilities of the changed clips with its weights and applies its own
temperature, as in the run. The reference rows (``uniform``, ``prior``) ignore their input and
are left out.

Outputs in the run directory:

- ``robustness.csv``: one row per (model, change): ``n_clips`` scored, ``n_failed`` (clips the
  change or a feature failed on, left out of both scores), ``log_loss`` and ``accuracy`` on the
  changed clips, ``clean_log_loss`` and ``clean_accuracy`` of the same model on the same clips
  (its run predictions), ``delta_log_loss`` and ``delta_accuracy`` (changed minus clean);
- ``robustness_failures.csv``: ``key``, ``change``, ``error`` for every failed (clip, change);
- ``robustness.json``: the changes, which are mild, the clip count, or why the stage skipped
  (``skipped``) or failed (``failed``; the traceback in ``robustness_error.txt``: an error here
  never stops the run, whose leaderboard and report follow).

Single-label (``genre_top``) runs only: a ``genres_all`` run, or one on the official
features.csv (no audio), writes only ``robustness.json`` with the reason.
"""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import log
from harness.bundles.bundle import verify_bundle
from harness.bundles.ensemble import ensemble_logits
from harness.bundles.inputs import SINGLE_LABEL, LogMelModel, model_input
from harness.config.run_config import RunConfig
from harness.data.prepared import PreparedData, targets
from harness.features import perturb
from harness.features.changed import extract_changed
from harness.features.changed_store import ChangedSet, load_changed
from harness.features.extracted import ExtractedFeatures, usable_keys
from harness.registry import REFERENCE_MODELS
from harness.run.ensemble import ENSEMBLE_NAME
from harness.run.manifest import write_csv_atomic
from harness.run.model_run import ModelOutcome
from harness.run_layout import IN_RUN, RunLayout
from harness.scoring import metrics
from harness.scoring.calibration import TemperatureScaler
from harness.scoring.groups import expand_columns
from harness.scoring.metrics import DegenerateInputWarning
from harness.storage import write_json_atomic

COLUMNS = (
    "model",
    "change",
    "n_clips",
    "n_failed",
    "log_loss",
    "accuracy",
    "clean_log_loss",
    "clean_accuracy",
    "delta_log_loss",
    "delta_accuracy",
)
FAILURE_COLUMNS = ("key", "change", "error")


def robustness_stage(
    config: RunConfig,
    run_dir: Path,
    data: PreparedData,
    features: ExtractedFeatures,
    outcomes: list[ModelOutcome],
) -> Path | None:
    """Score every model of the run on the changed test clips; the path of robustness.csv, or
    None when the stage skipped (the reason is logged and kept in robustness.json)."""
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    models = [o for o in outcomes if scorable(config, o)]
    reason = skip_reason(data, features, models)
    keys = usable_keys(data, features, "test") if reason is None else pd.Index([])
    if reason is None and len(keys) == 0:
        reason = "no usable test clip"
    info = change_names()
    if reason:
        log.info(f"Robustness: skipped ({reason})")
        write_json_atomic(layout.robustness_info, info | {"skipped": reason})
        return None
    log.info(f"Robustness: {len(keys)} test clips x {len(perturb.CHANGES)} audio changes ...")
    try:
        return score_changes(config, run_dir, data, features, models, keys)
    except Exception as exc:  # an optional stage: the leaderboard and the report still follow
        layout.robustness_error.write_text(traceback.format_exc(), "utf-8")
        failed = f"{type(exc).__name__}: {exc}"[:300]
        log.warning(f"Robustness failed ({failed}); traceback in {layout.robustness_error}")
        write_json_atomic(layout.robustness_info, info | {"failed": failed, "skipped": None})
        return None


def change_names() -> dict[str, Any]:
    """What every ``robustness.json`` starts with: the changes applied and the mild ones."""
    return {"changes": list(perturb.CHANGES), "mild": list(perturb.MILD_CHANGES)}


def score_changes(
    config: RunConfig,
    run_dir: Path,
    data: PreparedData,
    features: ExtractedFeatures,
    models: list[ModelOutcome],
    keys: pd.Index,
) -> Path:
    """Extract (or reuse) the changed features, score every model, write the three files."""
    info = change_names()
    paths = extract_changed(
        data.clips.loc[keys],
        cache_dir=config.cache_dir,
        changes=list(perturb.CHANGES),
        logmel=features.logmel,
        decode=features.decode,
        n_jobs=config.n_jobs,
        scheduler=config.scheduler,
    )
    rows, failures = [], []
    for change, path in paths.items():
        changed = load_changed(path, change, keys)
        failures += [(k, change, e) for k, e in changed.failures["error"].items()]
        rows += score_change(config, run_dir, data, changed, models)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    layout = RunLayout(run_dir)
    write_csv_atomic(table, layout.robustness_table)
    failed = pd.DataFrame(failures, columns=list(FAILURE_COLUMNS))
    write_csv_atomic(failed, layout.robustness_failures)
    write_json_atomic(layout.robustness_info, info | {"n_test_clips": len(keys), "skipped": None})
    if failures:
        log.info(f"  {len(failures)} (clip, change) pairs failed: see {IN_RUN.robustness_failures}")
    return layout.robustness_table


def scorable(config: RunConfig, outcome: ModelOutcome) -> bool:
    """A model that trained and has clean test predictions; not a reference row."""
    if outcome.error is not None or "test" not in outcome.predictions:
        return False
    if outcome.name == ENSEMBLE_NAME:
        return True
    if outcome.name in REFERENCE_MODELS or outcome.estimator is None:
        return False
    # the changed audio is turned into MFCC-140 and the run's log-mel only
    return set(model_input(config.entry(outcome.name)).feature_sets) <= {"mfcc", "logmel"}


def skip_reason(
    data: PreparedData, features: ExtractedFeatures, models: list[ModelOutcome]
) -> str | None:
    """Why this run gets no robustness table, or None (a run without a usable test clip gets
    none either)."""
    if data.task != SINGLE_LABEL:
        return f"the {data.task} task is not supported (single-label genre_top runs only)"
    if features.table is not None or features.decode is None or features.logmel is None:
        return "the run read the official features.csv: there is no audio to change"
    if features.feature_set != "mfcc":
        return f"feature set {features.feature_set!r}: only MFCC-140 is recomputed"
    if not models:
        return "no model trained and scored (reference rows are left out)"
    return None


def score_change(
    config: RunConfig,
    run_dir: Path,
    data: PreparedData,
    changed: ChangedSet,
    models: list[ModelOutcome],
) -> list[dict]:
    """One ``robustness.csv`` row per model for one change (members before the ensemble)."""
    probas: dict[str, np.ndarray] = {}
    rows = []
    for outcome in sorted(models, key=lambda o: o.name == ENSEMBLE_NAME):
        if not len(changed.keys):
            proba = np.zeros((0, len(data.classes)))
        elif outcome.name == ENSEMBLE_NAME:
            proba = ensemble_probabilities(run_dir, data, probas)
            if proba is None:
                continue
        else:
            proba = changed_probabilities(config, outcome, data, changed)
        probas[outcome.name] = proba
        rows.append(score_row(outcome, data, changed, proba))
    order = {o.name: i for i, o in enumerate(models)}
    return sorted(rows, key=lambda row: order[row["model"]])


def changed_probabilities(
    config: RunConfig, outcome: ModelOutcome, data: PreparedData, changed: ChangedSet
) -> np.ndarray:
    """Calibrated probabilities (n, len(data.classes)) of one model on the changed clips."""
    kind = model_input(config.entry(outcome.name))
    X = changed.logmel if isinstance(kind, LogMelModel) else changed.mfcc.astype(np.float64)
    logits = kind.logits(outcome.estimator, X, task=data.task)
    temperature = float(outcome.predictions["test"]["temperature"])
    return calibrated(
        logits,
        temperature,
        model_classes=list(outcome.estimator.classes_),
        classes=list(data.classes),
    )


def calibrated(
    logits: np.ndarray, temperature: float, *, model_classes: list, classes: list
) -> np.ndarray:
    """``softmax(logits / T)`` laid out over the task's classes, as the leaderboard makes it."""
    scaler = TemperatureScaler()
    scaler.temperature_ = temperature
    return expand_columns(scaler.transform(logits), model_classes=model_classes, classes=classes)


def ensemble_probabilities(
    run_dir: Path, data: PreparedData, probas: dict[str, np.ndarray]
) -> np.ndarray | None:
    """The ensemble's calibrated probabilities from its members' (weights and temperature from
    its bundle, ``models/ensemble/bundle``); None when a member was not scored."""
    spec = verify_bundle(RunLayout(Path(run_dir)).model(ENSEMBLE_NAME).bundle)
    members = spec["members"]
    missing = [m["name"] for m in members if m["name"] not in probas]
    if missing:
        log.info(f"  robustness: no {ENSEMBLE_NAME} row ({', '.join(missing)} not scored)")
        return None
    logits = ensemble_logits([probas[m["name"]] for m in members], [m["weight"] for m in members])
    temperature = float(spec["calibration"]["temperature"])
    classes = list(data.classes)
    return calibrated(logits, temperature, model_classes=classes, classes=classes)


def score_row(
    outcome: ModelOutcome, data: PreparedData, changed: ChangedSet, proba: np.ndarray
) -> dict:
    """The ``robustness.csv`` row of one model and change (NaN scores when no clip is left)."""
    clean = outcome.predictions["test"]
    rows = pd.Index(clean["keys"]).get_indexer(changed.keys.astype(str))
    scores = _scores(targets(data, changed.keys), proba, data)
    clean_scores = _scores(clean["y_true"][rows], clean["proba_calibrated"][rows], data)
    row = {
        "model": outcome.name,
        "change": changed.change,
        "n_clips": len(changed.keys),
        "n_failed": len(changed.failures),
    }
    for name in ("log_loss", "accuracy"):
        row[name], row[f"clean_{name}"] = round(scores[name], 4), round(clean_scores[name], 4)
        row[f"delta_{name}"] = round(scores[name] - clean_scores[name], 4)
    return row


def _scores(y_true: np.ndarray, proba: np.ndarray, data: PreparedData) -> dict[str, float]:
    if len(y_true) == 0:
        return {"log_loss": float("nan"), "accuracy": float("nan")}
    labels = list(data.classes)
    with warnings.catch_warnings():  # a class absent from a small test split: the checks say
        warnings.simplefilter("ignore", DegenerateInputWarning)
        return {
            "log_loss": metrics.log_loss(y_true, proba, labels=labels),
            "accuracy": metrics.accuracy(y_true, proba, labels=labels),
        }
