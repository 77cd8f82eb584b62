"""Feature checks: non-finite values, constant features, scaling fitted on training rows only,
and the shift of feature statistics between training and test.

The shift is measured per feature as the standardised mean difference
``SMD = (mean_test - mean_train) / sqrt((var_train + var_test) / 2)``; a feature is flagged when
``|SMD|`` exceeds both :data:`SMD_THRESHOLD` and three standard errors of the SMD under no shift
(``3 * sqrt(1/n_train + 1/n_test)``), so small test sets do not raise alarms by chance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.data.labels import given_labels
from harness.checks.figures import smd_figure
from harness.checks.registry import DataInputs

FAMILY = "features"
SMD_THRESHOLD = 0.25
# WARN when more than this fraction of the features shift.
MAX_SHIFTED_FRACTION = 0.05


def feature_names(table: pd.DataFrame) -> list[str]:
    """Column labels as text: ``mfcc/mean/01`` for a 3-level column."""
    return ["/".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]


def non_finite(*, table: pd.DataFrame, status: pd.Series | None = None) -> CheckResult:
    """Rows (tracks) and columns holding NaN or infinite values.

    Parameters
    ----------
    table : pd.DataFrame
        Feature table, index track_id, one column per feature.
    status : pd.Series, optional
        Decode status per track: entirely-NaN rows of failed clips and NaN statistics of
        silent clips (skew and kurtosis of a constant) are then reported as explained.
    """
    values = table.to_numpy(dtype=np.float64)
    nan, inf = np.isnan(values), np.isinf(values)
    bad = (nan | inf).any(axis=1)
    if not bad.any():
        return CheckResult(
            FAMILY, "non_finite_values", "PASS", f"all {values.size} values are finite"
        )
    names = np.array(feature_names(table))
    rows = np.flatnonzero(bad)
    clip_status = (
        status.reindex(table.index[rows]).fillna("").to_numpy()
        if status is not None
        else np.full(len(rows), "")
    )
    failed = nan[rows].all(axis=1)
    explained = (failed | (clip_status == "silent")) & ~inf[rows].any(axis=1)
    evidence = pd.DataFrame(
        {
            "track_id": table.index[rows],
            "status": clip_status,
            "n_nan": nan[rows].sum(axis=1),
            "n_inf": inf[rows].sum(axis=1),
            "first_bad_feature": [names[np.flatnonzero(~np.isfinite(values[i]))[0]] for i in rows],
            "explained": explained,
        }
    )
    unexplained = int((~explained).sum())
    return CheckResult(
        FAMILY,
        "non_finite_values",
        "FAIL" if unexplained else "WARN",
        f"{len(rows)} tracks have NaN/inf features ({int(failed.sum())} failed clips, all NaN; "
        f"{int((explained & ~failed).sum())} silent clips; {unexplained} unexplained): "
        f"{id_list(table.index[rows])}",
        evidence=evidence,
        action="failed and silent clips are excluded by the models' NaN filter; an unexplained "
        "NaN or any inf is an extraction bug: fix the extractor"
        if unexplained
        else "nothing to fix in the features: the clips themselves are reported under audio",
    )


def constant_features(*, table: pd.DataFrame, train_keys: pd.Index) -> CheckResult:
    """Features with zero variance over the training rows (useless, and a division by zero)."""
    train = table.reindex(train_keys).to_numpy(dtype=np.float64)
    train = train[np.isfinite(train).all(axis=1)]  # failed clips and extraction bugs aside
    std = train.std(axis=0) if len(train) else np.zeros(table.shape[1])
    names = np.array(feature_names(table))
    constant = names[std == 0]
    if len(constant) == 0:
        return CheckResult(
            FAMILY,
            "constant_features",
            "PASS",
            f"all {len(names)} features vary over the {len(train)} training rows",
        )
    return CheckResult(
        FAMILY,
        "constant_features",
        "WARN",
        f"{len(constant)} of {len(names)} features are constant on training: "
        f"{id_list(constant, limit=6)}",
        evidence=pd.DataFrame({"feature": constant}),
        action="drop them (sklearn VarianceThreshold) or check the extractor",
    )


def scaled_logistic_regression() -> Any:
    """The MFCC baseline's shape: StandardScaler then logistic regression (unfitted)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))


def scaling_fitted_on_training(
    *,
    table: pd.DataFrame,
    train_keys: pd.Index,
    y_train: np.ndarray,
    make_pipeline: Callable[[], Any] | None = None,
) -> CheckResult:
    """Fit a pipeline on the training rows and confirm its scaler saw only those rows.

    Parameters
    ----------
    make_pipeline : callable, optional
        Returns an unfitted sklearn Pipeline with a StandardScaler step (default: scaler +
        logistic regression, as the MFCC baseline).
    y_train : np.ndarray, shape (n_train,)
        Labels of ``train_keys``.
    """
    from sklearn.preprocessing import StandardScaler

    X = table.reindex(train_keys).to_numpy(dtype=np.float64)
    finite = np.isfinite(X).all(axis=1)
    X, y = X[finite], np.asarray(y_train)[finite]
    pipeline = (make_pipeline or scaled_logistic_regression)().fit(X, y)
    steps = getattr(pipeline, "steps", [("model", pipeline)])
    scalers = [s for _, s in steps if hasattr(s, "mean_") and isinstance(s, StandardScaler)]
    if not scalers:
        return CheckResult(FAMILY, "scaling_on_training_only", "SKIP", "pipeline has no scaler")
    train_mean = X.mean(axis=0)
    all_rows = table.to_numpy(dtype=np.float64)
    all_mean = np.nanmean(np.where(np.isfinite(all_rows), all_rows, np.nan), axis=0)
    gap = float(np.max(np.abs(scalers[0].mean_ - train_mean)))
    gap_all = float(np.max(np.abs(all_mean - train_mean)))
    evidence = {
        "training rows": len(X),
        "max |scaler mean - training mean|": gap,
        "max |all-rows mean - training mean|": gap_all,
    }
    if np.allclose(scalers[0].mean_, train_mean, rtol=1e-6, atol=1e-8):
        return CheckResult(
            FAMILY,
            "scaling_on_training_only",
            "PASS",
            f"the scaler's mean equals the training mean (max gap {gap:.2e}; the all-rows mean "
            f"would differ by {gap_all:.3g})",
            evidence=evidence,
        )
    return CheckResult(
        FAMILY,
        "scaling_on_training_only",
        "FAIL",
        f"the scaler's mean differs from the training mean by up to {gap:.3g}: it was fitted "
        "on other rows",
        evidence=evidence,
        action="fit the scaler inside the pipeline, on training rows only",
    )


def train_test_shift(
    *, table: pd.DataFrame, train_keys: pd.Index, test_keys: pd.Index, top: int = 20
) -> CheckResult:
    """Standardised mean difference of each feature between training and test rows."""
    train = table.reindex(train_keys).to_numpy(dtype=np.float64)
    test = table.reindex(test_keys).to_numpy(dtype=np.float64)
    train = train[np.isfinite(train).all(axis=1)]
    test = test[np.isfinite(test).all(axis=1)]
    if len(train) < 2 or len(test) < 2:
        return CheckResult(FAMILY, "train_test_shift", "SKIP", "too few training or test rows")
    pooled = np.sqrt((train.var(axis=0, ddof=1) + test.var(axis=0, ddof=1)) / 2)
    diff = test.mean(axis=0) - train.mean(axis=0)
    smd = np.divide(diff, pooled, out=np.zeros_like(diff), where=pooled > 0)
    threshold = max(SMD_THRESHOLD, 3 * np.sqrt(1 / len(train) + 1 / len(test)))
    order = np.argsort(-np.abs(smd))
    names = np.array(feature_names(table))
    shifted = int(np.sum(np.abs(smd) > threshold))
    evidence = pd.DataFrame({"feature": names[order[:top]], "smd": smd[order[:top]].round(3)})
    figure = smd_figure(smd, threshold)
    fraction = shifted / len(smd)
    verdict = "WARN" if fraction > MAX_SHIFTED_FRACTION else "PASS"
    return CheckResult(
        FAMILY,
        "train_test_shift",
        verdict,
        f"{shifted} of {len(smd)} features shift between training and test (|SMD| > "
        f"{threshold:.2f}); largest {names[order[0]]} at {smd[order[0]]:+.2f}",
        evidence=evidence,
        action=(
            "the test set differs from training (other recording conditions or sources?): "
            "check the split and compare per-group scores"
            if verdict == "WARN"
            else ""
        ),
        figures=[figure],
    )


def feature_checks(
    *, table: pd.DataFrame, splits: pd.Series, labels: pd.Series, status: pd.Series | None = None
) -> list[CheckResult]:
    """Every feature check on one feature table (index track_id) with its splits and labels."""
    keys = table.index.intersection(splits.index)
    train_keys = keys[(splits.reindex(keys) == "training").to_numpy()]
    train_keys = train_keys.intersection(labels.index)
    test_keys = keys[(splits.reindex(keys) == "test").to_numpy()]
    return [
        non_finite(table=table, status=status),
        constant_features(table=table, train_keys=train_keys),
        scaling_fitted_on_training(
            table=table, train_keys=train_keys, y_train=labels.reindex(train_keys).to_numpy()
        ),
        train_test_shift(table=table, train_keys=train_keys, test_keys=test_keys),
    ]


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The features family as a registered ``"data"`` check (:func:`feature_checks` on the
    MFCC table)."""
    if inputs.feature_table is None:
        return [skip(FAMILY, "non_finite_values", "no feature table")]
    return feature_checks(
        table=inputs.feature_table,
        splits=inputs.splits,
        labels=given_labels(inputs),
        status=inputs.status["status"],
    )
