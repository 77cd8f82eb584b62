"""What differs between the two kinds of model: the input they read and how they are fitted.

A model consumes either a feature table (scikit-learn style estimators: the baselines and users'
own) or log-mel spectrograms (torch modules trained by :class:`NeuralClassifier`). Each kind is
one class here with the same methods, so the rest of the pipeline never branches on the kind:
:func:`model_input` picks the class from the registry entry's ``consumes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from harness import features as feats
from harness.data.prepared import PreparedData
from harness.errors import ParameterError
from harness.features.extracted import ExtractedFeatures
from harness.registry import FEATURES, LOGMEL, ModelEntry, load_target, training_defaults
from harness.scoring.metrics import EPS
from harness.training.chunks import RowSubset
from harness.training.estimator import NeuralClassifier


def construct_estimator(name: str, factory: Any, **params: Any) -> Any:
    """``factory(**params)``, with an unknown setting reported as one line naming it."""
    try:
        return factory(**params)
    except TypeError as exc:
        raise ParameterError(
            f"{name}: a setting in [params.{name}] is not accepted ({exc}); see the "
            "docstring of the model's factory for its settings"
        ) from exc


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
        """The factory's estimator with the run's seed and settings."""
        if options.ddp:
            raise ParameterError(
                f"{entry.name} is a scikit-learn baseline; --ddp trains neural models."
            )
        params = {**training_defaults(entry), **options.params}
        factory = load_target(entry.target)
        return construct_estimator(entry.name, factory, random_state=options.seed, **params)

    def fit(self, estimator: Any, X: Any, y: np.ndarray, X_val: Any, y_val: np.ndarray) -> None:
        """Fit on the training rows (validation is for calibration and scoring only)."""
        estimator.fit(X, y)

    def logits(self, estimator: Any, X: Any) -> np.ndarray:
        """Log-probabilities (clipped at ``EPS``) as pre-softmax scores, shape (n, C)."""
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        return np.log(np.clip(proba, EPS, 1.0))

    def save(self, estimator: Any, out_dir: Path) -> None:
        """``model.joblib`` (a pickle: load it only from a source you trust)."""
        joblib.dump(estimator, out_dir / "model.joblib")


class LogMelModel:
    """A torch module trained by :class:`NeuralClassifier` on log-mel spectrograms."""

    feature_sets = ("mfcc", "logmel")

    def inputs(
        self, data: PreparedData, features: ExtractedFeatures, group: str, keys: pd.Index
    ) -> Any:
        """A lazy view of ``keys``' rows of the memory-mapped log-mel cache: shape
        (len(keys), n_mels, n_frames), float16 dB, read on access."""
        logmel = feats.load_logmel(features.cache_dir, group=group, logmel=features.logmel)
        rows = logmel.index["row"].reindex(keys).to_numpy()
        return RowSubset(logmel.data, rows)

    def trainable(self, keys: pd.Index, X: Any) -> tuple[pd.Index, Any]:
        """Every usable clip trains (the log-mel of a decoded clip is finite)."""
        return keys, X

    def build(self, entry: ModelEntry, *, task: str, options: Any) -> Any:
        """A NeuralClassifier with the model's training defaults, the run's overrides and
        seed; ``quick`` trains 2 epochs."""
        params: dict[str, Any] = {"task": "single" if task == "genre_top" else "multi"}
        params.update(training_defaults(entry))
        params.update(options.params)
        if options.quick:
            params["epochs"] = 2
        params.update(random_state=options.seed, device=options.device, ddp=options.ddp,
                      checkpoint_dir=options.checkpoint_dir)  # fmt: skip
        return construct_estimator(entry.name, NeuralClassifier, model=entry.name, **params)

    def fit(self, estimator: Any, X: Any, y: np.ndarray, X_val: Any, y_val: np.ndarray) -> None:
        """Train with validation for early stopping and the best-epoch choice."""
        estimator.fit(X, y, X_val=X_val, y_val=y_val)

    def logits(self, estimator: Any, X: Any) -> np.ndarray:
        """Mean logits over the evaluation chunks, shape (n, C), float64."""
        return np.asarray(estimator.decision_logits(X), dtype=np.float64)

    def save(self, estimator: Any, out_dir: Path) -> None:
        """``model.pt`` (settings, classes, best weights) and ``history.csv``."""
        estimator.save(out_dir / "model.pt")
        if getattr(estimator, "history_", None) is not None:
            estimator.history_.to_csv(out_dir / "history.csv", index=False)


MODEL_INPUTS = {FEATURES: FeatureTableModel(), LOGMEL: LogMelModel()}


def model_input(entry: ModelEntry) -> FeatureTableModel | LogMelModel:
    """The input kind of a registered model (from its ``consumes``)."""
    return MODEL_INPUTS[entry.consumes]
