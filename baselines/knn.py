"""``knn``: StandardScaler + k nearest neighbours, with smoothed vote probabilities.

The FMA paper's kNN uses k = 200 (55% on fma_medium with MFCC-140). Two additions keep it usable
everywhere:

- k is capped at a tenth of the training rows (``MAX_K_FRACTION``; at least 1), so a small
  set (a synthetic one of a few hundred clips) is not voted on by all of its rows; on fma_small
  and fma_medium (6,400 and 19,922 training clips) k stays 200;
- probabilities are the neighbour votes with add-``alpha`` (Laplace) smoothing,
  ``(votes_c + alpha) / (k + alpha C)``: the arg-max is unchanged, but a class no neighbour voted
  for gets a small probability instead of 0, which would make the log loss infinite.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from baselines.reference import feature_pipeline

#: k is at most this fraction of the training rows.
MAX_K_FRACTION = 0.1


class SmoothedKNeighbors(ClassifierMixin, BaseEstimator):
    """k-NN classifier with k capped by the training size and Laplace-smoothed probabilities.

    Parameters
    ----------
    n_neighbors : int
        Neighbours consulted (at most ``MAX_K_FRACTION`` of the training rows, at least 1).
    alpha : float
        Pseudo-votes added to every class (0 gives scikit-learn's raw vote fractions).
    """

    def __init__(self, n_neighbors: int = 200, alpha: float = 1.0) -> None:
        self.n_neighbors = n_neighbors
        self.alpha = alpha

    def fit(self, X, y) -> SmoothedKNeighbors:
        X = np.asarray(X, dtype=np.float64)
        cap = max(1, int(MAX_K_FRACTION * X.shape[0]))
        self.n_neighbors_ = int(min(self.n_neighbors, cap))
        self.knn_ = KNeighborsClassifier(n_neighbors=self.n_neighbors_).fit(X, y)
        self.classes_ = self.knn_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Smoothed vote fractions, shape (n_clips, n_classes), rows summing to 1."""
        votes = self.knn_.predict_proba(np.asarray(X, dtype=np.float64)) * self.n_neighbors_
        smoothed = votes + self.alpha
        return smoothed / smoothed.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_knn(
    *, random_state: int = 0, n_neighbors: int = 200, alpha: float = 1.0, **params
) -> Pipeline:
    """StandardScaler + :class:`SmoothedKNeighbors`.

    Parameters
    ----------
    random_state : int
        Accepted for a uniform interface (k-NN is deterministic).
    n_neighbors : int
        k (the FMA paper's 200 by default).
    alpha : float
        Laplace smoothing of the vote probabilities.
    """
    return feature_pipeline(SmoothedKNeighbors(n_neighbors=n_neighbors, alpha=alpha, **params))
