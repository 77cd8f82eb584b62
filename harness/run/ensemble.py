"""The ensemble row: the mean of the calibrated probabilities of a run's best k models.

Every top team of the WWW 2018 challenge averaged several models. After a run has scored its
models, :func:`add_ensemble` adds one more, ``ensemble``:

- candidates: the models that trained and scored, less the reference rows (``uniform``,
  ``prior``), ranked by the validation log loss of their calibrated probabilities (the
  probabilities the ensemble averages);
- k: from 2 to min(``MAX_MEMBERS``, candidates), the one whose ensemble has the lowest
  validation log loss (a tie goes to the smaller k); equal weights;
- probabilities: the mean of the members' calibrated probabilities
  (:func:`harness.bundles.ensemble.mean_probabilities`), raw and calibrated alike: no
  temperature of its own. The members are calibrated on validation already, and the same split
  chose them and k, so it holds fewer of the ensemble's errors than unseen data does. A
  temperature fitted there sharpened the default run's ensemble tenfold (T = 0.10 on 41 clips,
  one of them wrong), which doubled its test log loss (0.63 against 0.31). A clip of digital
  silence gets the training prior, as with every model;
- outputs, where every model's go: ``models/ensemble/predictions_<group>.npz``, a bundle of
  bundles in ``models/ensemble/bundle`` (:mod:`harness.bundles.ensemble`) that
  ``fma-harness predict`` and ``export`` take like any bundle, and, with the other models',
  its leaderboard row and challenge submission.

Its validation scores are optimistic (members, k and the members' temperatures were chosen on
validation): compare it with the models on test. Its ``train_seconds`` is the sum of its
members'. A run with fewer than 2 candidates has no ensemble row; a multi-label run
(``genres_all``) has none yet, and says so.
"""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from harness import log
from harness.bundles.bundle import verify_bundle
from harness.bundles.ensemble import ensemble_logits, ensemble_spec, write_ensemble_bundle
from harness.data.prepared import CHALLENGE_GROUP, PreparedData, training_prior
from harness.features.extracted import ExtractedFeatures, silent_keys
from harness.registry import REFERENCE_MODELS
from harness.run.model_run import ModelOutcome
from harness.run.timing import StageTimes
from harness.run_layout import RunLayout
from harness.scoring import metrics
from harness.scoring.groups import score_groups
from harness.scoring.metrics import DegenerateInputWarning

ENSEMBLE_NAME = "ensemble"
MAX_MEMBERS = 5
GROUPS = ("validation", "test", CHALLENGE_GROUP)
CRITERION = "validation log loss of the calibrated probabilities"

Ranked = list[tuple[ModelOutcome, float]]  # (candidate, its validation log loss), best first


def add_ensemble(
    data: PreparedData,
    features: ExtractedFeatures,
    outcomes: list[ModelOutcome],
    *,
    run_dir: Path,
    times: StageTimes | None = None,
) -> list[ModelOutcome]:
    """The run's ensemble: ``[outcome]`` to add to the models' outcomes, or ``[]``.

    A run of fewer than 2 non-reference models says nothing; one whose models cannot make an
    ensemble (fewer than 2 scored, a multi-label task, a model already named ``ensemble``)
    prints why. The outcome's row says ``failed: ...`` when building it failed (traceback in
    ``models/ensemble/error.txt``), like any model's.
    """
    if sum(o.name not in REFERENCE_MODELS for o in outcomes) < 2:
        return []
    reason = skip_reason(data, outcomes)
    if reason:
        log.info(f"No ensemble: {reason}")
        return []
    ranked = rank_models(data, outcomes)
    log.info(f"Ensembling the best of {len(ranked)} models ...")
    times = times if times is not None else StageTimes()
    with times.stage(ENSEMBLE_NAME):
        outcome = run_ensemble(data, features, ranked, run_dir=run_dir)
    loss = outcome.row.get("val_log_loss")
    headline = f"val log loss {loss:.4f}; {outcome.row['notes']}" if loss is not None else ""
    log.info(f"  {ENSEMBLE_NAME}: {outcome.row['status']}  {headline}")
    return [outcome]


def skip_reason(data: PreparedData, outcomes: list[ModelOutcome]) -> str | None:
    """Why this run gets no ensemble row, or None when it gets one."""
    if data.task != "genre_top":
        return f"the {data.task} task has no ensemble row yet (single-label runs only)"
    if any(o.name == ENSEMBLE_NAME for o in outcomes):
        return f"a model of this run is named {ENSEMBLE_NAME!r}"
    n = len(eligible_models(outcomes))
    if n < 2:
        candidates = sum(o.name not in REFERENCE_MODELS for o in outcomes)
        return f"{n} of {candidates} models trained and scored; an ensemble needs 2"
    return None


def eligible_models(outcomes: list[ModelOutcome]) -> list[ModelOutcome]:
    """The models an ensemble may use: scored, with validation predictions, not a reference."""
    return [
        o
        for o in outcomes
        if o.error is None
        and o.name not in (*REFERENCE_MODELS, ENSEMBLE_NAME)
        and "validation" in o.predictions
    ]


def validation_log_loss(data: PreparedData, arrays: dict[str, np.ndarray]) -> float:
    """Log loss of a group's calibrated probabilities (unrounded)."""
    with warnings.catch_warnings():  # a class missing from a small split: the label checks say
        warnings.simplefilter("ignore", DegenerateInputWarning)
        proba, labels = arrays["proba_calibrated"], list(data.classes)
        return float(metrics.log_loss(arrays["y_true"], proba, labels=labels))


def rank_models(data: PreparedData, outcomes: list[ModelOutcome]) -> Ranked:
    """The eligible models and their validation log loss (calibrated), best first (a tie keeps
    the run's order)."""
    scored = [
        (o, validation_log_loss(data, o.predictions["validation"]))
        for o in eligible_models(outcomes)
    ]
    return sorted(scored, key=lambda pair: pair[1])


def ensemble_inputs(
    data: PreparedData,
    features: ExtractedFeatures,
    members: list[ModelOutcome],
    weights: list[float],
    *,
    groups: tuple[str, ...] = GROUPS,
) -> tuple[dict[str, tuple[pd.Index, np.ndarray]], dict[str, pd.Index]]:
    """The ensemble's logits per group and the keys that get the prior, for score_groups.

    A group's clips are those any member scored, in the group's order; a member that lacks one
    contributes the training prior for it (what its submission would hold). Silent clips are
    left to ``no_signal`` (the training prior, as for every model).
    """
    logits, no_signal = {}, {}
    prior = training_prior(data)
    for group in groups:
        present = [m.predictions[group] for m in members if group in m.predictions]
        if not present:
            continue
        all_keys = data.keys(group)
        scored = set(np.concatenate([a["keys"] for a in present]).tolist())
        keep = np.array([str(k) in scored for k in all_keys], dtype=bool)
        keys, names = all_keys[keep], all_keys[keep].astype(str)
        probas = []
        for member in members:
            arrays = member.predictions.get(group)
            if arrays is None:
                probas.append(np.tile(prior, (len(keys), 1)))
                continue
            rows = pd.Index(arrays["keys"]).get_indexer(names)
            proba = np.tile(prior, (len(keys), 1))
            proba[rows >= 0] = arrays["proba_calibrated"][rows[rows >= 0]]
            probas.append(proba)
        silent = keys.isin(silent_keys(data, features, group))
        if (~silent).any():
            logits[group] = (keys[~silent], ensemble_logits([p[~silent] for p in probas], weights))
        if silent.any():
            no_signal[group] = keys[silent]
    return logits, no_signal


def score_ensemble(data, features, members, weights):
    """``(row, predictions)`` of :func:`~harness.scoring.groups.score_groups` for the mean of
    ``members`` with ``weights``, and the keys given the prior per group."""
    logits, no_signal = ensemble_inputs(data, features, members, weights)
    row, predictions = score_groups(
        data,
        logits,
        classes=list(data.classes),
        task=data.task,
        calibrate=False,
        no_signal=no_signal,
    )
    return row, predictions, no_signal


def choose_k(data: PreparedData, features: ExtractedFeatures, ranked: Ranked) -> dict[int, tuple]:
    """The ensemble of the best k models for each k from 2 to min(MAX_MEMBERS, len(ranked)):
    k -> (validation log loss, row, predictions, no_signal)."""
    scored = {}
    for k in range(2, min(MAX_MEMBERS, len(ranked)) + 1):
        members = [o for o, _ in ranked[:k]]
        row, predictions, no_signal = score_ensemble(data, features, members, [1.0 / k] * k)
        loss = validation_log_loss(data, predictions["validation"])
        scored[k] = (loss, row, predictions, no_signal)
    return scored


def run_ensemble(
    data: PreparedData, features: ExtractedFeatures, ranked: Ranked, *, run_dir: Path
) -> ModelOutcome:
    """Build, score and save the ensemble; a failure is caught and reported in its row."""
    folder = RunLayout(Path(run_dir)).model(ENSEMBLE_NAME)
    folder.root.mkdir(parents=True, exist_ok=True)
    try:
        return build_ensemble(data, features, ranked, run_dir=run_dir)
    except Exception as exc:  # the models' rows and submissions must still follow
        folder.error.write_text(traceback.format_exc(), "utf-8")
        row = {"model": ENSEMBLE_NAME, "status": f"failed: {type(exc).__name__}: {exc}"[:200]}
        return ModelOutcome(name=ENSEMBLE_NAME, row=row, error=str(exc))


def build_ensemble(
    data: PreparedData, features: ExtractedFeatures, ranked: Ranked, *, run_dir: Path
) -> ModelOutcome:
    """Choose k, score the ensemble of the best k and write its predictions and bundle."""
    scored = choose_k(data, features, ranked)
    losses = {n: loss for n, (loss, *_) in scored.items()}
    k = min(losses, key=lambda n: (losses[n], n))
    _, row, predictions, no_signal = scored[k]
    members = [o for o, _ in ranked[:k]]
    weights = [1.0 / k] * k
    names = [m.name for m in members]
    row = {
        "model": ENSEMBLE_NAME,
        "status": "ok",
        **row,
        "train_seconds": round(sum(float(m.row.get("train_seconds") or 0.0) for m in members), 2),
        "n_silent_as_prior": sum(len(keys) for keys in no_signal.values()),
        "notes": f"mean of the calibrated probabilities of {', '.join(names)} (best {k} of "
        f"{len(ranked)} by {CRITERION})",
    }
    layout = RunLayout(Path(run_dir))
    folder = layout.model(ENSEMBLE_NAME)
    for group, arrays in predictions.items():
        np.savez_compressed(folder.predictions(group), **arrays)
    selection = {
        "criterion": CRITERION,
        "ranked": [{"name": o.name, "val_log_loss": loss} for o, loss in ranked],
        "k_val_log_loss": {str(n): loss for n, loss in losses.items()},
        "k": k,
    }
    member_rows = [
        {"name": o.name, "weight": w, "val_log_loss": loss}
        for (o, loss), w in zip(ranked[:k], weights, strict=True)
    ]
    sources = [layout.model(name).bundle for name in names]
    spec = ensemble_spec(
        name=ENSEMBLE_NAME,
        data=data,
        members=member_rows,
        member_specs=[verify_bundle(source) for source in sources],
        temperature=float(predictions["validation"]["temperature"]),
        selection=selection,
    )
    write_ensemble_bundle(folder.bundle, spec=spec, sources=sources)
    return ModelOutcome(name=ENSEMBLE_NAME, row=row, predictions=predictions)
