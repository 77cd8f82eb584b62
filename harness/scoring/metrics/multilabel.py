"""Multi-label (``genres_all``) tagging metrics, in the style of ``mir_eval``.

Conventions
-----------
Inputs
    ``y_true``: array-like, shape (n_tracks, n_classes), multi-hot 0/1 (bool or int).
    ``scores``: array-like, shape (n_tracks, n_classes), per-class probabilities in [0, 1]
    (sigmoid outputs), column ``c`` for ``labels[c]``; converted to float64. Rows are *not*
    renormalised: each class is an independent yes/no question. A track with no labels is legal.
ROC-AUC
    Per class, the probability that a random positive track scores above a random negative one,
    ties counting one half (the Mann-Whitney statistic; equal to scikit-learn's
    ``roc_auc_score``). Macro: mean over the classes that have both positives and negatives in
    ``y_true``; the others are undefined, left out, and warned about (scikit-learn raises).
    Micro: one AUC over all (track, class) pairs flattened.
PR-AUC
    Average precision ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds, as
    scikit-learn's ``average_precision_score`` (no interpolation). Macro: mean over the classes
    with at least one positive; the others are left out with a warning.
F1 at thresholds
    A track is predicted positive for class c when ``scores[:, c] >= thresholds[c]``. Per-class
    ``F1 = 2 TP / (2 TP + FP + FN)``; macro F1 averages over classes where that is defined
    (``2 TP + FP + FN > 0``), micro F1 pools the counts of all classes.
Binary log loss
    :func:`binary_log_loss`: mean over tracks and classes of ``-[y ln p + (1 - y) ln(1 - p)]``,
    with ``p`` clipped to ``[EPS, 1 - EPS]`` (nats per track and class; ln 2 = 0.6931 for 0.5).
Threshold tuning
    :func:`tune_thresholds` picks, per class and on validation data, the score threshold that
    maximises that class's F1 among the distinct validation scores (the highest such threshold
    on ties); a class with no positives in validation (or fewer than ``min_positives``) keeps
    ``DEFAULT_THRESHOLD`` = 0.5.
    :func:`apply_thresholds` turns scores into 0/1 predictions; tune on validation, apply on
    test, never tune on the data you report.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import ParameterError
from harness.scoring.metrics.validation import (
    EPS,
    DegenerateInputWarning,
    check_labels,
    check_score_matrix,
)

DEFAULT_THRESHOLD = 0.5
EVALUATE_MULTILABEL_KEYS = (
    "roc_auc_macro",
    "roc_auc_micro",
    "pr_auc_macro",
    "f1_macro_at_0.5",
    "f1_micro_at_0.5",
    "f1_macro_tuned",
    "f1_micro_tuned",
)


def validate_multilabel(
    y_true: Any, scores: Any, labels: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Check multi-label inputs; return (y_true as int8 (n, C), scores as float64 (n, C)).

    Raises
    ------
    ParameterError
        Naming the first bad row: shape mismatch, a y_true value other than 0/1, NaN or inf,
        a score outside [0, 1].
    """
    labels = check_labels(labels)
    s = check_score_matrix(scores, name="scores", n_columns=len(labels))
    y = check_score_matrix(y_true, name="y_true", n_columns=len(labels))
    if y.shape[0] != s.shape[0] or y.shape[0] == 0:
        raise ParameterError(
            f"y_true has {y.shape[0]} rows but scores has {s.shape[0]}; need equal, > 0"
        )
    not_binary = (y != 0) & (y != 1)
    if not_binary.any():
        row, col = np.argwhere(not_binary)[0]
        raise ParameterError(f"y_true row {row}, column {col} is {y[row, col]}; expected 0 or 1")
    if (s > 1).any():
        row, col = np.argwhere(s > 1)[0]
        raise ParameterError(f"scores row {row}, column {col} is {s[row, col]}; expected <= 1")
    pos = y.sum(axis=0)
    never = [labels[c] for c in np.flatnonzero(pos == 0)]
    if never:
        warnings.warn(
            f"{len(never)} of {len(labels)} classes have no positive track in y_true: "
            f"{', '.join(map(str, never[:8]))}{' ...' if len(never) > 8 else ''}",
            DegenerateInputWarning,
            stacklevel=2,
        )
    return y.astype(np.int8), s


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from scipy.stats import rankdata

    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s) - 1]  # end of each tie run
    tp = np.cumsum(y_sorted)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _mean_defined(values: list[float], labels: list[Any], what: str) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any():
        skipped = [str(labels[c]) for c in np.flatnonzero(np.isnan(arr))]
        warnings.warn(
            f"{what} undefined for {len(skipped)} classes, left out of the mean: "
            f"{', '.join(skipped[:8])}",
            DegenerateInputWarning,
            stacklevel=3,
        )
    return float(np.nanmean(arr)) if (~np.isnan(arr)).any() else float("nan")


def roc_auc_per_class(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> np.ndarray:
    """ROC-AUC of each class: float64 (n_classes,), NaN for a class lacking positives or
    negatives."""
    y, s = validate_multilabel(y_true, scores, labels)
    return np.array([_auc(y[:, c], s[:, c]) for c in range(y.shape[1])], dtype=np.float64)


def average_precision_per_class(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> np.ndarray:
    """Average precision (PR-AUC) of each class: float64 (n_classes,), NaN for a class
    without positives."""
    y, s = validate_multilabel(y_true, scores, labels)
    return np.array(
        [_average_precision(y[:, c], s[:, c]) for c in range(y.shape[1])], dtype=np.float64
    )


def roc_auc_macro(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> float:
    """Mean per-class ROC-AUC over classes with both positives and negatives."""
    y, s = validate_multilabel(y_true, scores, labels)
    values = [_auc(y[:, c], s[:, c]) for c in range(y.shape[1])]
    return _mean_defined(values, list(labels), "ROC-AUC")


def roc_auc_micro(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> float:
    """ROC-AUC over all (track, class) pairs flattened; NaN if all are 0 or all are 1."""
    y, s = validate_multilabel(y_true, scores, labels)
    return _auc(y.ravel(), s.ravel())


def average_precision_macro(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> float:
    """Mean per-class average precision (PR-AUC) over classes with at least one positive."""
    y, s = validate_multilabel(y_true, scores, labels)
    values = [_average_precision(y[:, c], s[:, c]) for c in range(y.shape[1])]
    return _mean_defined(values, list(labels), "average precision")


def binary_log_loss(y_true: Any, scores: Any, *, labels: Sequence[Any]) -> float:
    """Mean binary cross-entropy over every (track, class) pair, in nats.

    Parameters
    ----------
    y_true : array-like, shape (n_tracks, n_classes)
        Multi-hot 0/1.
    scores : array-like, shape (n_tracks, n_classes)
        Probabilities in [0, 1], clipped to ``[EPS, 1 - EPS]``.
    """
    y, s = validate_multilabel(y_true, scores, labels)
    p = np.clip(s, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def apply_thresholds(scores: Any, thresholds: Any) -> np.ndarray:
    """0/1 predictions ``scores >= thresholds``.

    Parameters
    ----------
    scores : array-like, shape (n_tracks, n_classes)
    thresholds : float or array-like, shape (n_classes,)

    Returns
    -------
    np.ndarray, shape (n_tracks, n_classes), int8
    """
    s = check_score_matrix(scores, name="scores")
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != s.shape[1]):
        raise ParameterError(
            f"thresholds has shape {t.shape} but scores has {s.shape[1]} columns; "
            "pass one threshold per class or a single float"
        )
    t = np.broadcast_to(t, (s.shape[1],))
    return (s >= t[None, :]).astype(np.int8)


def f1_at_thresholds(
    y_true: Any,
    scores: Any,
    *,
    labels: Sequence[Any],
    thresholds: Any = DEFAULT_THRESHOLD,
    average: str = "macro",
) -> float:
    """F1 of ``scores >= thresholds`` (per-class array or one float); macro or micro average."""
    if average not in ("macro", "micro"):
        raise ParameterError(f"average must be 'macro' or 'micro', got {average!r}")
    y, s = validate_multilabel(y_true, scores, labels)
    pred = apply_thresholds(s, thresholds)
    tp = (pred & y).sum(axis=0).astype(np.float64)
    fp = (pred & (1 - y)).sum(axis=0)
    fn = ((1 - pred) & y).sum(axis=0)
    if average == "micro":
        denom = 2 * tp.sum() + fp.sum() + fn.sum()
        return float(2 * tp.sum() / denom) if denom > 0 else float("nan")
    denom = 2 * tp + fp + fn
    defined = denom > 0
    return float(np.mean(2 * tp[defined] / denom[defined])) if defined.any() else float("nan")


def tune_thresholds(
    y_val: Any, scores_val: Any, *, labels: Sequence[Any], min_positives: int = 1
) -> np.ndarray:
    """Per-class thresholds maximising each class's F1 on validation data.

    Parameters
    ----------
    min_positives : int
        A class with fewer positive validation tracks keeps ``DEFAULT_THRESHOLD`` (a threshold
        tuned on one or two tracks is their score, which rarely carries over to new data).

    Returns
    -------
    np.ndarray, shape (n_classes,), float64
        Candidate thresholds are the distinct validation scores; ``DEFAULT_THRESHOLD`` for a
        class without positives (or with fewer than ``min_positives``).
    """
    y, s = validate_multilabel(y_val, scores_val, labels)
    out = np.full(y.shape[1], DEFAULT_THRESHOLD)
    for c in range(y.shape[1]):
        n_pos = int(y[:, c].sum())
        if n_pos == 0 or n_pos < min_positives:
            continue
        order = np.argsort(-s[:, c], kind="stable")
        s_sorted, y_sorted = s[order, c], y[order, c]
        last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
        tp = np.cumsum(y_sorted)[last]
        f1 = 2 * tp / (last + 1 + n_pos)  # 2TP / (2TP + FP + FN) with TP + FP = k
        best = int(np.argmax(f1))  # first maximum = highest threshold
        out[c] = s_sorted[last[best]]
    return out


def evaluate_multilabel(
    y_true: Any, scores: Any, *, labels: Sequence[Any], thresholds: Any = None
) -> dict[str, float]:
    """All multi-label metrics, as an ordered dict with the keys of ``EVALUATE_MULTILABEL_KEYS``.

    Parameters
    ----------
    thresholds : array-like, shape (n_classes,), optional
        Per-class thresholds tuned on validation (:func:`tune_thresholds`); without them the
        ``*_tuned`` entries are NaN (the keys are always present).
    """
    validate_multilabel(y_true, scores, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        kw: dict[str, Any] = {"labels": labels}
        tuned = [float("nan"), float("nan")]
        if thresholds is not None:
            tuned = [
                f1_at_thresholds(y_true, scores, thresholds=thresholds, average=a, **kw)
                for a in ("macro", "micro")
            ]
        return {
            "roc_auc_macro": roc_auc_macro(y_true, scores, **kw),
            "roc_auc_micro": roc_auc_micro(y_true, scores, **kw),
            "pr_auc_macro": average_precision_macro(y_true, scores, **kw),
            "f1_macro_at_0.5": f1_at_thresholds(y_true, scores, average="macro", **kw),
            "f1_micro_at_0.5": f1_at_thresholds(y_true, scores, average="micro", **kw),
            "f1_macro_tuned": tuned[0],
            "f1_micro_tuned": tuned[1],
        }
