"""Turn a model's logits per group into calibrated probabilities and a leaderboard row.

Single-label: softmax of the logits (a baseline's logits are its log-probabilities, so its
probabilities come back unchanged), one temperature fitted on validation, challenge metrics on
validation and test, raw and calibrated. Multi-label: sigmoid of per-genre log-odds, one
temperature per genre fitted on validation where the genre has enough validation tracks
(:class:`~harness.scoring.calibration.GenreTemperatureScaler`), per-genre thresholds tuned on
the validation probabilities and applied unchanged to test (0.5 for a genre with fewer than
``MIN_GENRE_TRACKS`` positive validation tracks, as for calibration), the tagging metrics (ROC-AUC,
PR-AUC, F1 at 0.5 and at the tuned thresholds, binary log loss) on validation and test.
Probabilities are always laid out over the task's full label set: a class the model never saw in
training gets probability 0 here, which the metrics clip to 1e-15 as the challenge grader does.
A clip of digital silence, which the model never sees, gets the training prior.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, softmax

from harness.data.prepared import PreparedData, targets, training_prior
from harness.scoring import metrics
from harness.scoring.calibration import (
    MIN_GENRE_TRACKS,
    GenreTemperatureScaler,
    TemperatureScaler,
)
from harness.scoring.metrics import DegenerateInputWarning
from harness.scoring.metrics.multilabel import EVALUATE_MULTILABEL_KEYS, binary_log_loss

ROW_METRICS = ("log_loss", "macro_f1", "accuracy")
# multi-label row metrics per scored group: the tagging metrics, then the binary log loss
MULTI_ROW_METRICS = (*EVALUATE_MULTILABEL_KEYS, "bce")


def expand_columns(
    values: np.ndarray, *, model_classes: list[str], classes: list[str]
) -> np.ndarray:
    """Reorder/expand columns from the model's classes to the task's classes (missing -> 0).

    Parameters
    ----------
    values : np.ndarray, shape (n, len(model_classes))
    Returns
    -------
    np.ndarray, shape (n, len(classes))
    """
    out = np.zeros((values.shape[0], len(classes)), dtype=np.float64)
    position = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(model_classes):
        out[:, position[c]] = values[:, j]
    return out


def score_groups(
    data: PreparedData,
    logits: dict[str, tuple[pd.Index, np.ndarray]],
    *,
    classes: list[str],
    task: str,
    calibrate: bool = True,
    no_signal: dict[str, pd.Index] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Calibrate on validation, score every labelled group, and collect predictions.

    Parameters
    ----------
    logits : dict
        group -> (keys, logits of shape (n, len(classes))) with ``validation`` required.
    classes : list of str
        The model's ``classes_`` (column order of the logits).
    calibrate : bool
        Fit a temperature on validation. False for the reference rows (``prior``, ``uniform``):
        scaling a constant prediction only moves it towards uniform.
    no_signal : dict, optional
        group -> keys of clips the model did not see because they are digital silence: each
        gets the training prior (:func:`harness.data.prepared.training_prior`) as its raw and
        calibrated probabilities, and is scored with the rest of its group.

    Returns
    -------
    row : dict
        Leaderboard fields, e.g. ``val_log_loss``, ``test_macro_f1``, ``test_log_loss_calibrated``
        (single-label) or ``val_pr_auc_macro``, ``test_f1_macro_tuned``, ``test_bce_calibrated``,
        ``calibrated_genres`` and ``notes`` (multi-label).
    predictions : dict
        group -> arrays ``keys``, ``y_true`` (labelled groups), ``classes``, ``proba``,
        ``proba_calibrated``; single-label also ``temperature`` (0-d), multi-label
        ``thresholds`` and ``temperatures``, shape (C,).
    """
    # A small validation split often misses a class; the report's label checks say so once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        if task == "genre_top":
            return _score_single(
                data, logits, classes=classes, calibrate=calibrate, no_signal=no_signal or {}
            )
        return _score_multi(
            data, logits, classes=classes, calibrate=calibrate, no_signal=no_signal or {}
        )


def _with_prior_rows(data, logits, no_signal, probabilities):
    """Per group: keys, raw and calibrated probabilities over ``data.classes``.

    ``probabilities(logits)`` maps a group's logits to ``(raw, calibrated)``, each of shape
    (n, len(data.classes)); the ``no_signal`` keys of each group get the training prior. Rows
    follow the group's clip order, so every model's predictions line up row by row.
    """
    prior = training_prior(data)
    empty = np.zeros((0, len(data.classes)))
    out = {}
    for group in dict.fromkeys([*logits, *no_signal]):
        keys, group_logits = logits.get(group, (pd.Index([]), None))
        raw, cal = (empty, empty) if group_logits is None else probabilities(group_logits)
        extra = no_signal.get(group, pd.Index([]))
        if len(extra):
            fill = np.tile(prior, (len(extra), 1))
            keys, raw, cal = keys.append(extra), np.vstack([raw, fill]), np.vstack([cal, fill])
            order = pd.Index(keys).get_indexer(data.keys(group).intersection(keys, sort=False))
            keys, raw, cal = keys[order], raw[order], cal[order]
        if len(keys):
            out[group] = (keys, raw, cal)
    return out


def _score_single(data, logits, *, classes, calibrate, no_signal):
    label_set = list(data.classes)
    val_keys, val_logits = logits["validation"]
    y_val = targets(data, val_keys)
    model_index = {c: i for i, c in enumerate(classes)}
    seen = np.array([y in model_index for y in y_val])
    scaler = TemperatureScaler()
    if calibrate and seen.any():  # no validation label the model knows: nothing to fit on
        scaler.fit(val_logits[seen], np.array([model_index[y] for y in y_val[seen]]))
    else:
        scaler.temperature_ = 1.0
    row: dict[str, Any] = {"temperature": round(float(scaler.temperature_), 4)}
    predictions: dict[str, dict[str, np.ndarray]] = {}

    def probabilities(group_logits):
        raw = softmax(group_logits, axis=1)
        return tuple(
            expand_columns(p, model_classes=classes, classes=label_set)
            for p in (raw, scaler.transform(group_logits))
        )

    groups = _with_prior_rows(data, logits, no_signal, probabilities)
    for group, (keys, raw, cal) in groups.items():
        arrays = {
            "keys": np.asarray(keys, dtype=str),
            "classes": np.asarray(label_set),
            "proba": raw,
            "proba_calibrated": cal,
            "temperature": np.float64(scaler.temperature_),  # unrounded: model bundles keep it
        }
        if group in ("validation", "test"):
            y_true = targets(data, keys)
            arrays["y_true"] = y_true
            prefix = "val" if group == "validation" else "test"
            scores = metrics.evaluate(y_true, raw, labels=label_set)
            for name in ROW_METRICS:
                row[f"{prefix}_{name}"] = round(float(scores[name]), 4)
            calibrated = metrics.evaluate(y_true, cal, labels=label_set)
            row[f"{prefix}_log_loss_calibrated"] = round(float(calibrated["log_loss"]), 4)
        predictions[group] = arrays
    return row, predictions


def _score_multi(data, logits, *, classes, calibrate, no_signal):
    label_set = list(data.classes)
    val_keys, val_logits = logits["validation"]
    scaler = GenreTemperatureScaler()
    y_val = targets(data, val_keys)
    z_val = expand_columns(val_logits, model_classes=classes, classes=label_set)
    scaler.fit(z_val, y_val if calibrate else np.zeros_like(y_val))  # no fit: all T = 1
    note = scaler.describe() if calibrate else "reference row: not calibrated"
    row: dict[str, Any] = {"calibrated_genres": int(scaler.fitted_.sum())}

    def probabilities(group_logits):  # a genre the model lacks: log-odds 0
        z = expand_columns(group_logits, model_classes=classes, classes=label_set)
        return expit(z), scaler.transform(z)

    groups = _with_prior_rows(data, logits, no_signal, probabilities)
    thresholds = np.full(len(label_set), metrics.DEFAULT_THRESHOLD)
    if "validation" in groups:  # tuned on validation, applied unchanged to test
        keys, raw, _ = groups["validation"]
        thresholds = metrics.tune_thresholds(
            targets(data, keys), raw, labels=label_set, min_positives=MIN_GENRE_TRACKS
        )
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for group, (keys, raw, cal) in groups.items():
        arrays = {
            "keys": np.asarray(keys, dtype=str),
            "classes": np.asarray(label_set),
            "proba": raw,
            "proba_calibrated": cal,
            "thresholds": thresholds,
            "temperatures": scaler.temperatures_,
        }
        if group in ("validation", "test"):
            y_true = targets(data, keys)  # columns: data.classes == label_set
            arrays["y_true"] = y_true
            prefix = "val" if group == "validation" else "test"
            row.update(_multi_scores(y_true, raw, cal, label_set, thresholds, prefix=prefix))
        predictions[group] = arrays
    row["notes"] = note
    return row, predictions


def _multi_scores(y_true, raw, cal, labels, thresholds, *, prefix):
    """The multi-label row fields of one group: ``<prefix>_<metric>`` for MULTI_ROW_METRICS,
    and ``<prefix>_bce_calibrated``; raw and calibrated probabilities of shape (n, C)."""
    scores = metrics.evaluate_multilabel(y_true, raw, labels=labels, thresholds=thresholds)
    scores["bce"] = binary_log_loss(y_true, raw, labels=labels)
    out = {f"{prefix}_{name}": _rounded(scores[name]) for name in MULTI_ROW_METRICS}
    out[f"{prefix}_bce_calibrated"] = _rounded(binary_log_loss(y_true, cal, labels=labels))
    return out


def _rounded(value: float) -> float:
    """4 decimals; NaN (a metric undefined on this group) stays NaN."""
    return round(float(value), 4) if np.isfinite(value) else float("nan")
