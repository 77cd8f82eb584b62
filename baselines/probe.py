"""``musicnn-probe``: a linear probe on frozen pretrained embeddings (Castellon et al. 2021).

The input is a table of clip-level representations of pretrained networks (columns
``(source, representation, feature)``, see :mod:`harness.pretrained.tables`). For every
candidate (source, representation) a StandardScaler + LogisticRegression is fitted on the
training rows and scored by log loss on the validation rows; the best candidate is kept, and
the whole comparison recorded in ``selection_``. Multi-label (a multi-hot target): one
logistic regression per genre, scored by the mean binary log loss (a genre constant in
training predicts its training rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from baselines.reference import TakesMultiHot, feature_pipeline

#: (source, representation) pairs compared by default: the MSD checkpoint's penultimate layer,
#: pooled mid-end features and taggram. One network, because embedding is the costly part (measured
#: 7 to 11 patches of 3 s per second on two busy CPU cores); ``candidates`` adds the others, e.g.
#: ``["musicnn-mtt", "pool"]`` or ``["vgg-msd", "pool5"]``.
DEFAULT_CANDIDATES = (
    ("musicnn-msd", "penultimate"),
    ("musicnn-msd", "pool"),
    ("musicnn-msd", "taggram"),
)
PROBA_FLOOR = 1e-15  # log loss of a probability 0


class EmbeddingProbe(TakesMultiHot, ClassifierMixin, BaseEstimator):
    """Linear probe choosing its input among pretrained representations on validation.

    Parameters
    ----------
    candidates : sequence of (source, representation)
        Column groups of the input table to compare.
    C : float
        Inverse L2 strength of the logistic regressions.
    max_iter : int
        lbfgs iterations.
    random_state : int
        Solver seed.

    Attributes
    ----------
    selected_ : tuple (source, representation)
    selection_ : list of dict
        Per candidate: source, representation, width, validation log loss.
    classes_ : np.ndarray
        Labels (single-label) or genre column indices (multi-label).
    """

    def __init__(
        self,
        candidates: Any = DEFAULT_CANDIDATES,
        C: float = 1.0,
        max_iter: int = 2000,
        random_state: int = 0,
    ) -> None:
        self.candidates = candidates
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def required_inputs(self) -> list[tuple[str, str]]:
        """The (source, representation) pairs the input table must hold."""
        if hasattr(self, "selected_"):
            return [self.selected_]
        return [tuple(c) for c in self.candidates]

    def _classifier(self) -> Pipeline:
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        return feature_pipeline(clf)

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> EmbeddingProbe:
        """Fit every candidate on ``X`` (n, columns) and keep the best on ``X_val``."""
        y = np.asarray(y)
        self.multi_label_ = y.ndim == 2
        fitted, self.selection_ = {}, []
        for source, representation in (tuple(c) for c in self.candidates):
            columns = _columns(X, source, representation)
            model = self._fit_one(columns, y)
            score = np.nan
            if X_val is not None and len(X_val):
                score = self._score(model, _columns(X_val, source, representation), y_val)
            fitted[(source, representation)] = model
            self.selection_.append(
                {
                    "source": source,
                    "representation": representation,
                    "width": int(columns.shape[1]),
                    "validation_log_loss": float(score),
                }
            )
        scores = [row["validation_log_loss"] for row in self.selection_]
        best = int(np.nanargmin(scores)) if np.isfinite(scores).any() else 0
        self.selected_ = (self.selection_[best]["source"], self.selection_[best]["representation"])
        self.model_ = fitted[self.selected_]
        self.classes_ = np.arange(y.shape[1]) if self.multi_label_ else self.model_.classes_
        return self

    def _fit_one(self, X: np.ndarray, y: np.ndarray) -> Any:
        if not self.multi_label_:
            return self._classifier().fit(X, y)
        return [
            self._classifier().fit(X, y[:, c]) if 0 < y[:, c].mean() < 1 else float(y[:, c].mean())
            for c in range(y.shape[1])
        ]

    def _proba(self, model: Any, X: np.ndarray) -> np.ndarray:
        if not self.multi_label_:
            return model.predict_proba(X)
        columns = [
            np.full(len(X), m) if isinstance(m, float) else m.predict_proba(X)[:, 1] for m in model
        ]
        return np.column_stack(columns)

    def _score(self, model: Any, X: np.ndarray, y: Any) -> float:
        proba = np.clip(self._proba(model, X), PROBA_FLOOR, 1 - PROBA_FLOOR)
        y = np.asarray(y)
        if self.multi_label_:
            return float(-np.mean(y * np.log(proba) + (1 - y) * np.log(1 - proba)))
        known = np.isin(y, model.classes_)
        if not known.any():
            return np.nan
        return float(log_loss(y[known], proba[known], labels=model.classes_))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, C), or per-genre probabilities (multi-label)."""
        return self._proba(self.model_, _columns(X, *self.selected_))

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        if self.multi_label_:
            return (proba >= 0.5).astype(np.int8)
        return self.classes_[np.argmax(proba, axis=1)]


def _columns(X: Any, source: str, representation: str) -> np.ndarray:
    """The float64 block of ``X`` under (source, representation); one line when absent."""
    try:
        block = X.loc[:, (source, representation)]
    except KeyError:
        found = sorted({tuple(c[:2]) for c in X.columns})
        raise ValueError(
            f"no ({source}, {representation}) columns in the input; it holds {found}"
        ) from None
    return block.to_numpy(dtype=np.float64)


def make_probe(*, random_state: int = 0, **params: Any) -> EmbeddingProbe:
    """A linear probe on frozen musicnn embeddings, its input chosen on validation.

    ``candidates`` (a list of [source, representation]) sets what is compared; ``C`` and
    ``max_iter`` the logistic regressions.
    """
    return EmbeddingProbe(random_state=random_state, **params)


make_probe.consumes = "embeddings"
make_probe.pretrained = DEFAULT_CANDIDATES
