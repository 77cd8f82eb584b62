"""Input checks shared by the single-label and multi-label metrics, and the probability clip.

``EPS`` is the one probability clip of the harness: log loss clips probabilities to
``[EPS, 1 - EPS]`` as the challenge grader does, and a baseline's log-probabilities are taken
of probabilities clipped the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import ParameterError

EPS = 1e-15


class DegenerateInputWarning(UserWarning):
    """Legal input on which a metric is less meaningful (e.g. a class never present)."""


def check_score_matrix(scores: Any, *, name: str = "proba", n_columns: int | None = None):
    """Convert ``scores`` to a float64 (n, C) array, raising on NaN, inf or negative values.

    Parameters
    ----------
    scores : array-like, shape (n, C)
    name : str
        How the argument is called in error messages.
    n_columns : int, optional
        The expected number of columns.

    Returns
    -------
    np.ndarray, shape (n, C), float64
    """
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must hold numbers: {exc}; pass a numeric array") from None
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be 2-D (n_tracks, n_classes), got shape {arr.shape}")
    if n_columns is not None and arr.shape[1] != n_columns:
        raise ParameterError(
            f"{name} has {arr.shape[1]} columns but labels has {n_columns} entries; "
            "pass one label per column"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ParameterError(
            f"{name} row {row}, column {col} is {arr[row, col]}; every value must be finite"
        )
    if (arr < 0).any():
        row, col = np.argwhere(arr < 0)[0]
        raise ParameterError(
            f"{name} row {row}, column {col} is {arr[row, col]}; values must be >= 0"
        )
    return arr


def check_labels(labels: Sequence[Any]) -> list[Any]:
    labels = list(labels)
    if not labels:
        raise ParameterError("labels is empty; pass the label set, one label per proba column")
    seen: set[Any] = set()
    for lab in labels:
        if lab in seen:
            raise ParameterError(f"labels contains {lab!r} twice; labels must be distinct")
        seen.add(lab)
    return labels
