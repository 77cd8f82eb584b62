"""Suspected mislabels: confident learning on out-of-fold probabilities of a grouped baseline.

Confident learning (Northcutt, Jiang & Chuang 2021) as implemented by cleanlab: out-of-fold
predicted probabilities of a cross-validated logistic regression, with folds grouped by artist so
that no artist's other tracks vouch for its labels, go to ``cleanlab.filter.find_label_issues``
with ``filter_by="confident_learning"`` (the off-diagonal cells of the confident joint); the
tracks it flags are ranked by self-confidence (the out-of-fold probability of the given label,
lowest first) and shown with the genre the baseline suggests.

The detector is only as good as its baseline: a genre pair that the features cannot tell apart
looks like label noise. Frame-summary MFCC statistics see which sounds occur, not in which order
(two genres with the same drum kit in another order, or the same accents in 3/4 and 2/4, look
alike), so the baseline also gets a tempo-robust rhythm descriptor of the log-mel spectrogram
(:func:`rhythm_descriptor`). On the default synthetic set this raises out-of-fold accuracy from
0.87 to 0.93 and the detector's precision from about 0.35 to above 0.8.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.labels import given_labels
from harness.checks.registry import DataInputs

FAMILY = "labels"
USABLE = ("ok", "short", "silent")  # decode statuses whose features the detector reads
RHYTHM_BANDS = 4
RHYTHM_MAX_LAG = 128  # frames: about 3 s at 22,050 Hz / hop 512
RHYTHM_GRID = np.geomspace(2, RHYTHM_MAX_LAG - 1, 40)
RHYTHM_SCALE_COEFFS = 12


def _onset_envelopes(S_db: np.ndarray, n_bands: int) -> np.ndarray:
    bands = np.stack([b.mean(axis=0) for b in np.array_split(S_db, n_bands, axis=0)])
    env = np.maximum(np.diff(bands, axis=1), 0.0)
    return env - env.mean(axis=1, keepdims=True)


def rhythm_descriptor(S_db: np.ndarray) -> np.ndarray:
    """Tempo-robust rhythm features of a log-mel spectrogram.

    Onset envelopes of ``RHYTHM_BANDS`` mel bands (half-wave rectified frame differences) are
    auto- and cross-correlated (both directions, so which band comes first is kept) up to
    ``RHYTHM_MAX_LAG`` frames. Each curve is sampled on log-spaced lags, where a tempo change is a
    shift, and kept both as is and as the magnitude of its Fourier transform along the log-lag
    axis (shift-, i.e. tempo-invariant: a discrete scale transform).

    Parameters
    ----------
    S_db : np.ndarray, shape (n_mels, n_frames)
        Log-mel spectrogram in dB (frames 512 samples apart at 22,050 Hz).

    Returns
    -------
    np.ndarray, shape (n_curves * (40 + 12),), float32
        With 4 bands: 16 curves (4 auto, 12 cross), 832 values.
    """
    env = _onset_envelopes(np.asarray(S_db, dtype=np.float32), RHYTHM_BANDS)
    n = env.shape[1]
    spectrum = np.fft.rfft(env, n=2 * n, axis=1)
    energy = np.sum(env**2, axis=1) + 1e-9
    lags = np.arange(RHYTHM_MAX_LAG + 1)
    curves = []
    for i in range(RHYTHM_BANDS):
        for j in range(i, RHYTHM_BANDS):
            cc = np.fft.irfft(spectrum[i] * np.conj(spectrum[j]), n=2 * n)
            cc = cc / np.sqrt(energy[i] * energy[j])
            forward = cc[: RHYTHM_MAX_LAG + 1]
            curves.append(np.interp(RHYTHM_GRID, lags, forward))
            if i != j:
                backward = np.concatenate([cc[:1], cc[::-1][:RHYTHM_MAX_LAG]])
                curves.append(np.interp(RHYTHM_GRID, lags, backward))
    log_lag = np.stack(curves)
    scale = np.abs(np.fft.rfft(log_lag, axis=1))[:, :RHYTHM_SCALE_COEFFS]
    return np.concatenate([log_lag.ravel(), scale.ravel()]).astype(np.float32)


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
    C : float
        Inverse L2 regularisation strength of the logistic regression.

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

    classes = sorted(set(y.tolist()))
    n_splits = max(2, min(n_splits, int(pd.Series(y).value_counts().min()), len(set(groups))))
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small classes, slow convergence: sklearn warns
        proba = cross_val_predict(model, X, y, groups=groups, cv=cv, method="predict_proba")
    return proba, classes


def detector_features(mfcc: pd.DataFrame, rhythm: pd.DataFrame | None) -> pd.DataFrame:
    """The detector's inputs: MFCC means (20 columns) plus the rhythm descriptor when given.

    Parameters
    ----------
    mfcc : pd.DataFrame
        MFCC-140 table (3-level columns); only the ``mean`` statistics are kept.
    rhythm : pd.DataFrame, optional
        :func:`rhythm_descriptor` rows indexed by track_id (inner-joined).
    """
    if isinstance(mfcc.columns, pd.MultiIndex) and "mean" in mfcc.columns.get_level_values(1):
        mfcc = mfcc.loc[:, mfcc.columns.get_level_values(1) == "mean"]
    names = [f"mfcc_mean_{i}" for i in range(mfcc.shape[1])]
    parts = [pd.DataFrame(mfcc.to_numpy(dtype=np.float64), index=mfcc.index, columns=names)]
    if rhythm is not None and not rhythm.empty:
        names = [f"rhythm_{j}" for j in range(rhythm.shape[1])]
        values = rhythm.to_numpy(dtype=np.float64)
        parts.append(pd.DataFrame(values, index=rhythm.index, columns=names))
    return pd.concat(parts, axis=1, join="inner")


def issue_table(
    *, keys: pd.Index, y_int: np.ndarray, proba: np.ndarray, classes: list[str], ranked: np.ndarray
) -> pd.DataFrame:
    """The flagged tracks, most suspicious first, with given and suggested genres.

    Parameters
    ----------
    y_int : np.ndarray, shape (n_tracks,)
        Given label indices into ``classes``.
    proba : np.ndarray, shape (n_tracks, n_classes)
        Out-of-fold probabilities.
    ranked : np.ndarray of int
        Row positions of the flagged tracks, in report order.
    """
    from cleanlab.rank import get_label_quality_scores

    quality = get_label_quality_scores(y_int, proba)
    return pd.DataFrame(
        {
            "track_id": keys[ranked],
            "given": [classes[i] for i in y_int[ranked]],
            "suggested": [classes[i] for i in proba[ranked].argmax(axis=1)],
            "p_given": proba[ranked, y_int[ranked]].round(3),
            "p_suggested": proba[ranked].max(axis=1).round(3),
            "label_quality": quality[ranked].round(4),
        }
    )


def suspected_mislabels(
    *,
    features: pd.DataFrame,
    labels: pd.Series,
    groups: pd.Series,
    splits: pd.Series | None = None,
    random_state: int = 0,
) -> CheckResult:
    """Tracks whose given genre the out-of-fold baseline confidently disagrees with.

    Parameters
    ----------
    features : pd.DataFrame
        Detector inputs indexed by track_id (rows with NaN or inf are left out), e.g.
        :func:`detector_features`.
    labels : pd.Series
        track_id -> given genre.
    groups : pd.Series
        track_id -> artist id (cross-validation groups).
    """
    from cleanlab.filter import find_label_issues

    keys = labels.index.intersection(features.index)
    X = features.loc[keys].to_numpy(dtype=np.float64)
    keep = np.isfinite(X).all(axis=1)
    keys, X = keys[keep], X[keep]
    y = labels.loc[keys].astype(str).to_numpy()
    counts = pd.Series(y).value_counts()
    if len(keys) < 20 or counts.size < 2 or counts.min() < 2:
        return CheckResult(
            FAMILY,
            "suspected_mislabels",
            "SKIP",
            f"too few labelled tracks with features ({len(keys)}) for a cross-validated baseline",
        )
    proba, classes = out_of_fold_proba(
        X=X, y=y, groups=groups.reindex(keys).fillna(-1).to_numpy(), random_state=random_state
    )
    index = {c: i for i, c in enumerate(classes)}
    y_int = np.array([index[v] for v in y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = find_label_issues(
            labels=y_int,
            pred_probs=proba,
            filter_by="confident_learning",
            return_indices_ranked_by="self_confidence",
        )
    accuracy = float(np.mean(proba.argmax(axis=1) == y_int))
    table = issue_table(keys=keys, y_int=y_int, proba=proba, classes=classes, ranked=ranked)
    if splits is not None:
        table.insert(1, "split", splits.reindex(table["track_id"]).to_numpy())
    base = (
        f"out-of-fold accuracy of the artist-grouped {len(classes)}-class baseline {accuracy:.2f}"
    )
    if table.empty:
        return CheckResult(
            FAMILY, "suspected_mislabels", "PASS", f"confident learning flags no track ({base})"
        )
    return CheckResult(
        FAMILY,
        "suspected_mislabels",
        "WARN",
        f"{len(table)} of {len(keys)} tracks ({100 * len(table) / len(keys):.1f}%) look "
        f"mislabelled; most suspicious: {id_list(table['track_id'], limit=6)} ({base})",
        evidence=table,
        action="listen to the top-ranked tracks and fix genre_top where the suggestion is "
        "right; an estimated noise rate above a few percent caps every model's accuracy",
    )


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The mislabel detector as a registered ``"data"`` check (:func:`suspected_mislabels` on
    the MFCC and rhythm inputs of the usable clips)."""
    if inputs.feature_table is None:
        return [skip(FAMILY, "suspected_mislabels", "no feature table")]
    status = inputs.status
    usable = status.index[status["status"].isin(USABLE).to_numpy()]
    features = detector_features(inputs.feature_table, inputs.rhythm)
    result = suspected_mislabels(
        features=features[features.index.isin(usable)],
        labels=given_labels(inputs),
        groups=inputs.tracks[("artist", "id")],
        splits=inputs.splits,
        random_state=inputs.seed,
    )
    return [result]
