"""The suspected-mislabel check's base classifier: out-of-fold probabilities of a standardised,
L2-regularised logistic regression, folds grouped by artist and stratified by genre, and how far
the check may trust it (:mod:`harness.checks.data.mislabels` reads its flags from them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

C_GRID = (0.01, 0.03, 0.1)  # inverse L2 strengths tried; the lowest out-of-fold log loss wins
MIN_ACCURACY = 0.75  # out-of-fold accuracy (and macro F1) below which the classifier is weak
MIN_MACRO_F1 = 0.7
MIN_KAPPA = 0.2  # Cohen's kappa below which it is barely better than chance: nothing flagged


def n_folds(y: np.ndarray, groups: np.ndarray, n_splits: int = 5) -> int:
    """``n_splits``, fewer when the smallest class or the number of groups is smaller (>= 2)."""
    return max(2, min(n_splits, int(pd.Series(y).value_counts().min()), len(set(groups))))


def out_of_fold_proba(
    *,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    n_splits: int = 5,
    C: float = 0.1,
    random_state: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold class probabilities of a standardised logistic regression.

    Parameters
    ----------
    X : np.ndarray, shape (n_tracks, n_features)
        Finite feature matrix.
    y : np.ndarray of str, shape (n_tracks,)
    groups : np.ndarray, shape (n_tracks,)
        Artist id per track; a group never spans a training and a held-out fold.
    n_splits, C, random_state
        Folds (see :func:`n_folds`), inverse L2 strength, seed of the folds.

    Returns
    -------
    proba : np.ndarray, shape (n_tracks, n_classes)
    classes : list of str
        Column order of ``proba`` (sorted labels).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    folds = n_folds(y, groups, n_splits)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
    # one BLAS thread: on matrices this small, more threads only contend (3x slower, measured)
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")  # small classes, slow convergence: sklearn warns
        proba = cross_val_predict(model, X, y, groups=groups, cv=cv, method="predict_proba")
    return proba, sorted(set(y.tolist()))


@dataclass(frozen=True)
class BaseClassifier:
    """The detector's base classifier: out-of-fold probabilities and how good they are.

    Attributes
    ----------
    proba : np.ndarray, shape (n_tracks, n_classes)
        Out-of-fold probabilities; columns in the order of ``classes`` (list of str).
    C, n_splits
        Strength chosen from :data:`C_GRID`; artist-grouped folds.
    features : str
        What it read, e.g. ``"140 MFCC statistics + 832 rhythm descriptors"``.
    accuracy, macro_f1, kappa : float
        Out-of-fold accuracy, macro F1 and Cohen's kappa against the given labels.
    log_loss : float
        Out-of-fold log loss of the given labels (what chose ``C`` and the inputs).
    compared : str
        The other inputs it was chosen over, with their log loss ("" when there were none).
    """

    proba: np.ndarray
    classes: list[str]
    C: float
    n_splits: int
    features: str
    accuracy: float
    macro_f1: float
    kappa: float
    log_loss: float = float("nan")
    compared: str = ""

    @property
    def credible(self) -> bool:
        """Whether its confident disagreements with the given labels are worth listing."""
        return self.accuracy >= MIN_ACCURACY and self.macro_f1 >= MIN_MACRO_F1

    @property
    def chance(self) -> bool:
        """Whether it is barely better than chance (nothing is flagged)."""
        return self.kappa < MIN_KAPPA

    def describe(self) -> str:
        """One clause for the finding."""
        return (
            f"base classifier: artist-grouped {self.n_splits}-fold logistic regression "
            f"(C={self.C:g}) on {self.features}, out-of-fold accuracy {self.accuracy:.2f}, "
            f"macro F1 {self.macro_f1:.2f}"
            + (f"; chosen over {self.compared} by out-of-fold log loss" if self.compared else "")
        )


def fit_base_classifier(
    *, X: np.ndarray, y: np.ndarray, groups: np.ndarray, features: str, random_state: int = 0
) -> BaseClassifier:
    """Out-of-fold probabilities for each C of :data:`C_GRID` (same folds); the lowest log
    loss wins.

    Parameters
    ----------
    X, y, groups, random_state
        As for :func:`out_of_fold_proba`.
    features : str
        Description of the columns of ``X`` (:func:`describe_features`).
    """
    from sklearn.metrics import cohen_kappa_score, f1_score

    fits = []
    for C in C_GRID:
        proba, classes = out_of_fold_proba(X=X, y=y, groups=groups, C=C, random_state=random_state)
        p_given = proba[np.arange(len(y)), np.searchsorted(classes, y)]
        fits.append((-np.mean(np.log(np.clip(p_given, 1e-12, None))), C, proba, classes))
    loss, C, proba, classes = min(fits, key=lambda fit: fit[0])
    y_int, pred = np.searchsorted(classes, y), proba.argmax(axis=1)
    return BaseClassifier(
        log_loss=float(loss),
        proba=proba,
        classes=classes,
        C=C,
        n_splits=n_folds(y, groups),
        features=features,
        accuracy=float(np.mean(pred == y_int)),
        macro_f1=float(f1_score(y_int, pred, average="macro")),
        kappa=float(cohen_kappa_score(y_int, pred)),
    )
