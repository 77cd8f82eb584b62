"""What differs between the two kinds of model: the input they read and how they are fitted.

A model consumes either a feature table (scikit-learn style estimators: the baselines and users'
own) or log-mel spectrograms (torch modules trained by :class:`NeuralClassifier`). Each kind is
one class here with the same methods, so the rest of the pipeline never branches on the kind:
:func:`model_input` picks the class from the registry entry's ``consumes``.

The task reaches a model through its kind, so that no factory has to know it. Multi-label
(``genres_all``, a multi-hot target (n, C)): a feature-table estimator is fitted one-vs-rest
(:class:`OneVsRestTagger`, one clone per genre) unless it declares that it takes a multi-hot
target itself (scikit-learn's tag ``classifier_tags.multi_label``, e.g. ``MLPClassifier``, the
reference rows); a log-mel model gets a sigmoid head (``NeuralClassifier(task="multi")``). The
logits are then per-genre log-odds.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from harness import features as feats
from harness.bundles.estimator_file import save_estimator
from harness.data.prepared import PreparedData
from harness.errors import DataError, ParameterError
from harness.features.extracted import ExtractedFeatures
from harness.pretrained.inputs import pretrained_table
from harness.registry import (
    EMBEDDINGS,
    FEATURES,
    LOGMEL,
    ModelEntry,
    load_target,
    neural_settings,
    spectrogram_set,
    training_defaults,
)
from harness.run_layout import ModelFolder
from harness.scoring.metrics import EPS
from harness.training.chunks import RowSubset
from harness.training.estimator import NeuralClassifier

SINGLE_LABEL = "genre_top"


def is_multilabel(task: str) -> bool:
    """True for the multi-label task (``genres_all``): a multi-hot target, sigmoid outputs."""
    return task != SINGLE_LABEL


def construct_estimator(name: str, factory: Any, **params: Any) -> Any:
    """``factory(**params)``, with an unknown setting reported as one line naming it."""
    try:
        return factory(**params)
    except TypeError as exc:
        if "random_state" in str(exc):  # the run passes its seed to every factory
            raise ParameterError(
                f"{name}: its factory does not take random_state ({exc}); a model factory "
                "takes random_state=, the run's seed, even when it ignores it"
            ) from exc
        raise ParameterError(
            f"{name}: a setting in [params.{name}] is not accepted ({exc}); see the "
            "docstring of the model's factory for its settings"
        ) from exc


PROBA_SUM_TOLERANCE = 1e-4  # a probability row of a feature-table model sums to 1 within this


def _shown(values: Any, limit: int = 4) -> str:
    """A short list of ``values`` for a message ("missing" for None)."""
    if values is None:
        return "missing"
    listed = [str(v) for v in values]
    return "[" + ", ".join(listed[:limit]) + (", ...]" if len(listed) > limit else "]")


class FeatureTableModel:
    """A scikit-learn style estimator fitted on a feature table (MFCC-140 by default)."""

    feature_sets = ("mfcc",)

    def inputs(
        self, data: PreparedData, features: ExtractedFeatures, group: str, keys: pd.Index
    ) -> np.ndarray:
        """Feature rows of ``keys``: float64 array of shape (len(keys), n_features)."""
        table = features.table
        if table is None:
            table = feats.load_feature_table(
                features.cache_dir, keys=list(keys), feature_set=features.feature_set
            )
        return table.loc[list(keys)].to_numpy(dtype=np.float64)

    def trainable(self, keys: pd.Index, X: np.ndarray) -> tuple[pd.Index, np.ndarray]:
        """Training rows with every value finite (a silent clip has NaN skew: leave it out)."""
        finite = np.isfinite(X).all(axis=1)
        return keys[finite], X[finite]

    def build(self, entry: ModelEntry, *, task: str, options: Any) -> Any:
        """The factory's estimator with the run's seed and settings; multi-label: fitted
        one-vs-rest unless it takes a multi-hot target itself (see the module docstring)."""
        if options.ddp:
            raise ParameterError(
                f"{entry.name} is a scikit-learn baseline; --ddp trains neural models."
            )
        params = {**training_defaults(entry, preset=options.preset), **options.params}
        factory = load_target(entry.target)
        estimator = construct_estimator(entry.name, factory, random_state=options.seed, **params)
        if is_multilabel(task) and not takes_multi_hot(estimator):
            return OneVsRestTagger(estimator)
        return estimator

    def fit(self, estimator: Any, X: Any, y: np.ndarray, X_val: Any, y_val: np.ndarray) -> None:
        """Fit on the training rows (validation is for calibration and scoring only); a
        single-label estimator's ``classes_`` must be the training labels."""
        estimator.fit(X, y)
        self.check_classes(estimator, y)

    def check_classes(self, estimator: Any, y: np.ndarray) -> None:
        """A single-label estimator's ``classes_`` are the training labels (one line if not)."""
        if y.ndim == 1:
            classes = getattr(estimator, "classes_", None)
            labels = sorted({str(label) for label in y})
            if classes is None or sorted(str(c) for c in classes) != labels:
                raise DataError(
                    f"the fitted model's classes_ are {_shown(classes)}, not the training labels "
                    f"{_shown(labels)}; a classifier's classes_ are the labels it was fitted on"
                )

    def logits(self, estimator: Any, X: Any, *, task: str = SINGLE_LABEL) -> np.ndarray:
        """Scores of shape (n, C): log-probabilities (clipped at ``EPS``) as pre-softmax scores,
        or per-genre log-odds (clipped at ``EPS`` and 1 - ``EPS``) for the multi-label task."""
        if is_multilabel(task):
            proba = np.clip(tag_probabilities(estimator, X), EPS, 1.0 - EPS)
            return np.log(proba) - np.log1p(-proba)
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        expected = (len(X), len(estimator.classes_))
        if proba.shape != expected:
            raise DataError(
                f"the model's predict_proba gave shape {proba.shape} for {expected[0]} clips and "
                f"{expected[1]} classes_; expected {expected}, one column per class"
            )
        sums = proba.sum(axis=1)
        off = np.flatnonzero(np.isfinite(sums) & (np.abs(sums - 1.0) > PROBA_SUM_TOLERANCE))
        if len(off):
            raise DataError(
                f"the model's predict_proba rows must sum to 1; {len(off)} of {len(proba)} do "
                f"not (row {off[0]} sums to {sums[off[0]]:.6g})"
            )
        return np.log(np.clip(proba, EPS, 1.0))

    def save(self, estimator: Any, out_dir: Path) -> None:
        """``model.skops`` (:func:`~harness.bundles.estimator_file.save_estimator`)."""
        save_estimator(estimator, ModelFolder(out_dir).sklearn_weights)


class LogMelModel:
    """A torch module trained by :class:`NeuralClassifier` on log-mel spectrograms: the run's
    (``logmel``), or the musicnn input (``musicnn-mel``) for a factory whose ``feature_set``
    says so (the fine-tuned musicnn)."""

    def __init__(self, feature_set: str = "logmel") -> None:
        self.feature_set = feature_set
        self.feature_sets = ("mfcc", feature_set)

    def inputs(
        self, data: PreparedData, features: ExtractedFeatures, group: str, keys: pd.Index
    ) -> Any:
        """A lazy view of ``keys``' rows of the memory-mapped log-mel cache: shape
        (len(keys), n_mels, n_frames), float16 dB, read on access."""
        logmel = feats.load_logmel(
            features.cache_dir, group=group, logmel=features.logmel, feature_set=self.feature_set
        )
        return RowSubset(logmel.data, logmel.rows(keys, group=group))

    def trainable(self, keys: pd.Index, X: Any) -> tuple[pd.Index, Any]:
        """Every usable clip trains (the log-mel of a decoded clip is finite)."""
        return keys, X

    def build(self, entry: ModelEntry, *, task: str, options: Any) -> Any:
        """A NeuralClassifier with the model's training defaults, the run's overrides and
        seed (:func:`neural_settings`)."""
        params: dict[str, Any] = {"task": "single" if task == "genre_top" else "multi"}
        params.update(
            neural_settings(
                entry, preset=options.preset, params=options.params, quick=options.quick
            )
        )
        params.update(
            random_state=options.seed,
            device=options.device,
            ddp=options.ddp,
            checkpoint_dir=options.checkpoint_dir,
        )
        return construct_estimator(entry.name, NeuralClassifier, model=entry.name, **params)

    def fit(self, estimator: Any, X: Any, y: np.ndarray, X_val: Any, y_val: np.ndarray) -> None:
        """Train with validation for early stopping and the best-epoch choice."""
        estimator.fit(X, y, X_val=X_val, y_val=y_val)

    def logits(self, estimator: Any, X: Any, *, task: str = SINGLE_LABEL) -> np.ndarray:
        """Mean logits over the evaluation chunks, shape (n, C), float64 (softmax or sigmoid
        inputs, as the estimator's task)."""
        return np.asarray(estimator.decision_logits(X), dtype=np.float64)

    def save(self, estimator: Any, out_dir: Path) -> None:
        """``model.pt`` (settings, classes, best weights) and ``history.csv``."""
        estimator.save(ModelFolder(out_dir).torch_weights)
        if getattr(estimator, "history_", None) is not None:
            estimator.history_.to_csv(ModelFolder(out_dir).history, index=False)


def takes_multi_hot(estimator: Any) -> bool:
    """True when ``estimator`` fits a multi-hot target (n, C) itself (scikit-learn's tag
    ``classifier_tags.multi_label``; a Pipeline reports its last step's)."""
    try:
        tags = estimator.__sklearn_tags__()
    except AttributeError:  # an estimator written before scikit-learn's tags
        return False
    return bool(getattr(tags.classifier_tags, "multi_label", False))


def tag_probabilities(estimator: Any, X: Any) -> np.ndarray:
    """Per-genre probabilities of a fitted multi-label estimator: float64 (n, C).

    ``predict_proba`` either gives them as one (n, C) array (``MLPClassifier``,
    :class:`OneVsRestTagger`), or, for scikit-learn's multi-output estimators, as a list of one
    (n, k) array per genre, columns ``classes_[c]``: the probability of class 1 is taken from
    each (0 or 1 for a genre that had one class only in training).
    """
    output = estimator.predict_proba(X)
    if not isinstance(output, list):
        return np.asarray(output, dtype=np.float64)
    columns = []
    for proba, classes in zip(output, estimator.classes_, strict=True):
        proba, classes = np.asarray(proba, dtype=np.float64), list(classes)
        columns.append(proba[:, classes.index(1)] if 1 in classes else np.zeros(len(proba)))
    return np.column_stack(columns)


class OneVsRestTagger(ClassifierMixin, BaseEstimator):
    """Multi-label by one binary clone of ``estimator`` per genre.

    Like scikit-learn's ``OneVsRestClassifier``, except that a genre no clone can be fitted for
    predicts its training frequency instead of stopping the run: a genre that is constant in
    training (no positive or no negative track), or whose clone raises ``ValueError`` (e.g. an
    internal 5-fold calibration with fewer than five positives).

    Parameters
    ----------
    estimator : scikit-learn style classifier
        Cloned once per genre, fitted on the 0/1 column of that genre.

    Attributes
    ----------
    estimators_ : list, length C
        The fitted clone of each genre, or None where the genre predicts ``rates_``.
    rates_ : np.ndarray, shape (C,)
        Training frequency of each genre.
    fallbacks_ : dict
        Column index -> why that genre predicts its training frequency.
    classes_ : np.ndarray
        Column indices 0..C-1.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, Y: Any) -> OneVsRestTagger:
        """Fit one clone per column of the multi-hot ``Y`` (n, C) on ``X`` (n, n_features)."""
        Y = np.asarray(Y)
        self.rates_ = Y.astype(np.float64).mean(axis=0)
        self.estimators_, self.fallbacks_ = [], {}
        for c in range(Y.shape[1]):
            fitted = None
            if 0.0 < self.rates_[c] < 1.0:
                try:
                    fitted = clone(self.estimator).fit(X, Y[:, c])
                except ValueError as exc:
                    self.fallbacks_[c] = f"{type(exc).__name__}: {exc}"[:160]
            else:
                self.fallbacks_[c] = "one class only in training"
            self.estimators_.append(fitted)
        self.classes_ = np.arange(Y.shape[1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each genre, shape (n, C), float64 (rows do not sum to 1)."""
        n = len(X)
        out = np.tile(self.rates_, (n, 1))
        for c, fitted in enumerate(self.estimators_):
            if fitted is not None:
                positive = list(fitted.classes_).index(1)
                out[:, c] = np.asarray(fitted.predict_proba(X), dtype=np.float64)[:, positive]
        return out

    def predict(self, X: Any) -> np.ndarray:
        """0/1 matrix (n, C) at probability 0.5."""
        return (self.predict_proba(X) >= 0.5).astype(np.int8)


class PretrainedModel(FeatureTableModel):
    """A scikit-learn style estimator fitted on frozen pretrained embeddings (a probe, the
    zero-shot tagger): its input is a table of clip-level representations, columns (source,
    representation, feature), of the sources the run embedded (:mod:`harness.pretrained`)."""

    feature_sets = ("mfcc", "musicnn-mel")

    def inputs(
        self, data: PreparedData, features: ExtractedFeatures, group: str, keys: pd.Index
    ) -> pd.DataFrame:
        """The representations of ``keys``: float32 table (len(keys), n_columns); its
        ``attrs["genres"]`` names the task's classes (a multi-hot target's columns)."""
        table = pretrained_table(features, group, keys)
        table.attrs["genres"] = list(data.classes)
        return table

    def trainable(self, keys: pd.Index, X: pd.DataFrame) -> tuple[pd.Index, pd.DataFrame]:
        """Training rows with every value finite."""
        finite = np.isfinite(X.to_numpy()).all(axis=1)
        return keys[finite], X[finite]

    def fit(self, estimator: Any, X: Any, y: np.ndarray, X_val: Any, y_val: np.ndarray) -> None:
        """Fit with the validation rows when the estimator takes them (a probe chooses its
        input on them); the genre names of a multi-hot target when it takes ``genres``."""
        accepted = inspect.signature(estimator.fit).parameters
        extra: dict[str, Any] = {}
        if "X_val" in accepted:
            extra.update(X_val=X_val, y_val=y_val)
        if "genres" in accepted and y.ndim == 2:
            extra["genres"] = list(X.attrs.get("genres", []))
        estimator.fit(X, y, **extra)
        super().check_classes(estimator, y)

    def save(self, estimator: Any, out_dir: Path) -> None:
        """``model.skops``, and ``selection.csv`` when the estimator chose its input on
        validation (a probe: each candidate's validation log loss, the chosen one marked)."""
        super().save(estimator, out_dir)
        selection = getattr(estimator, "selection_", None)
        if selection:
            table = pd.DataFrame(selection)
            table["chosen"] = [
                (row["source"], row["representation"]) == tuple(estimator.selected_)
                for row in selection
            ]
            table.to_csv(ModelFolder(out_dir).selection, index=False)


MODEL_INPUTS = {FEATURES: FeatureTableModel(), LOGMEL: LogMelModel(), EMBEDDINGS: PretrainedModel()}


def model_input(entry: ModelEntry) -> FeatureTableModel | LogMelModel:
    """The input kind of a registered model (from its ``consumes``; a log-mel model's
    spectrogram set from its factory's ``feature_set``)."""
    feature_set = spectrogram_set(entry)
    if feature_set not in (None, LOGMEL):
        return LogMelModel(feature_set)
    return MODEL_INPUTS[entry.consumes]
