"""Reference points every report shows, and the preprocessing every baseline shares.

- ``uniform``: 1/C for each of the C training classes (log loss ln C, e.g. ln 16 = 2.7726).
- ``prior``: the training class frequencies, whatever the input.

With a multi-hot target (multi-label tagging, shape (n, C)) each genre is a yes/no question:

- ``prior`` predicts each genre's training frequency (the fraction of training tracks tagged
  with it);
- ``uniform`` predicts one rate for every genre: the mean of those frequencies (the average
  number of genres per track over C). It is the tagging counterpart of 1/C, which is also the
  mean of the single-label prior, and it knows how many tags a track carries but not which.
  (A constant 0.5 would claim half the genres on every track; as every constant, it ranks no
  track above another, so its ROC-AUC is 0.5 and its PR-AUC each genre's prevalence.)

:func:`feature_pipeline` is the front of every feature-based baseline: a median
:class:`~sklearn.impute.SimpleImputer` (so that a clip whose statistics are NaN, e.g. a silent
challenge clip with an undefined skew, still gets a prediction) and a
:class:`~sklearn.preprocessing.StandardScaler`. Both sit inside the Pipeline, so they are fitted
on the training rows only. Training should still drop failed clips first
(:func:`harness.features.drop_failed`, which says how many).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def feature_pipeline(classifier: BaseEstimator, *, scale: bool = True) -> Pipeline:
    """``impute (median) -> [StandardScaler] -> classifier`` as one sklearn Pipeline.

    Parameters
    ----------
    classifier : sklearn classifier
        The final step (named ``"clf"``).
    scale : bool
        Standardise every feature to zero mean, unit variance (fitted on training rows).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Input: a 2-D float matrix (n_clips, n_features); NaN allowed.
    """
    steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("clf", classifier))
    return Pipeline(steps)


class TakesMultiHot:
    """Declares (scikit-learn's tag ``classifier_tags.multi_label``) that an estimator fits a
    multi-hot target (n, C) itself, so the harness does not wrap it one-vs-rest. Put it first
    among the bases, before ``ClassifierMixin``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class ReferenceClassifier(TakesMultiHot, ClassifierMixin, BaseEstimator):
    """A prediction that ignores the input: ``uniform`` or ``prior``, single- or multi-label.

    Parameters
    ----------
    strategy : {"uniform", "prior"}
        See the module docstring.
    random_state : int
        Seed of ``predict``'s draws (single-label ``uniform``, as DummyClassifier).

    Attributes
    ----------
    classes_ : np.ndarray
        The training labels (1-D ``y``) or the column indices 0..C-1 (multi-hot ``y``).
    rates_ : np.ndarray, shape (C,)
        Multi-hot ``y`` only: the probability predicted for each genre.
    """

    def __init__(self, strategy: str = "prior", random_state: int = 0) -> None:
        self.strategy = strategy
        self.random_state = random_state

    def fit(self, X, y) -> ReferenceClassifier:
        """Fit on ``X`` (n, n_features), unused, and ``y``: (n,) labels or (n, C) multi-hot."""
        y = np.asarray(y)
        if y.ndim == 1:  # single-label: exactly DummyClassifier
            self.dummy_ = DummyClassifier(strategy=self.strategy, random_state=self.random_state)
            self.dummy_.fit(X, y)
            self.classes_ = self.dummy_.classes_
            return self
        frequencies = y.astype(np.float64).mean(axis=0)
        if self.strategy == "uniform":
            frequencies = np.full(y.shape[1], frequencies.mean())
        self.rates_ = frequencies
        self.classes_ = np.arange(y.shape[1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(n, C): class probabilities (rows sum to 1) or per-genre probabilities (multi-hot)."""
        if hasattr(self, "dummy_"):
            return self.dummy_.predict_proba(X)
        return np.tile(self.rates_, (len(X), 1))

    def predict(self, X) -> np.ndarray:
        """Labels (single-label) or the 0/1 matrix at probability 0.5 (multi-hot)."""
        if hasattr(self, "dummy_"):
            return self.dummy_.predict(X)
        return (self.predict_proba(X) >= 0.5).astype(np.int8)


def make_uniform(*, random_state: int = 0, **params) -> Pipeline:
    """Predict 1/C for every class seen in training (multi-hot: one rate for every genre).

    Parameters
    ----------
    random_state : int
        Accepted for a uniform interface (``predict`` draws classes at random with it).
    """
    return Pipeline([("clf", ReferenceClassifier("uniform", random_state=random_state))])


def make_prior(*, random_state: int = 0, **params) -> Pipeline:
    """Predict the training class frequencies for every clip (multi-hot: per genre).

    Parameters
    ----------
    random_state : int
        Accepted for a uniform interface (the prior is deterministic).
    """
    return Pipeline([("clf", ReferenceClassifier("prior", random_state=random_state))])
