"""Models and baselines registered by name as lazy ``"module:attr"`` targets.

Nothing here imports torch or scikit-learn: a target is imported only when a model is built, so
``fma-harness --help`` stays fast. Each target is a factory called with keyword arguments
(``random_state`` at least) that returns an estimator with ``fit``, ``predict_proba`` and
``classes_``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import ParameterError


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, factory target and the input it consumes."""

    name: str
    target: str
    kind: str  # "baseline" (feature table in) or "neural" (log-mel arrays in)
    summary: str


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry(
            "uniform", "baselines.reference:make_uniform", "baseline", "1/C for every class"
        ),
        ModelEntry(
            "prior", "baselines.reference:make_prior", "baseline", "training class frequencies"
        ),
        ModelEntry(
            "mfcc-logreg",
            "baselines.logistic:make_logreg",
            "baseline",
            "StandardScaler + LogisticRegression (FMA paper)",
        ),
        ModelEntry("svm", "baselines.svm:make_svm", "baseline", "StandardScaler + RBF SVC"),
        ModelEntry("knn", "baselines.knn:make_knn", "baseline", "StandardScaler + k-NN"),
        ModelEntry("mlp", "baselines.mlp:make_mlp", "baseline", "StandardScaler + MLP (100 units)"),
        ModelEntry("cnn", "models.cnn:build_cnn", "neural", "fully convolutional (Choi 2016)"),
        ModelEntry("crnn", "models.crnn:build_crnn", "neural", "conv + GRU (Choi 2017)"),
        ModelEntry(
            "short-chunk",
            "models.short_chunk:build_short_chunk",
            "neural",
            "7-layer CNN on 3.7 s chunks (Won 2020)",
        ),
    ]
}


def get_entry(name: str) -> ModelEntry:
    """Return the registry entry for ``name`` or raise with the closest known names."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, MODELS, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ParameterError(f"Unknown model '{name}'.{hint} Known: {', '.join(MODELS)}.")


def load_target(target: str) -> Callable:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def names(kind: str | None = None) -> list[str]:
    """Registered model names, optionally only those of one kind."""
    return [n for n, e in MODELS.items() if kind is None or e.kind == kind]
