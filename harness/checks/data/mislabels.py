"""Suspected mislabels: confident learning on out-of-fold probabilities, trusted only as far as the
classifier behind them.

**Evidence.** Out-of-fold probabilities of a standardised, L2-regularised logistic regression on
every MFCC-140 statistic plus a tempo-robust rhythm descriptor of the log-mel spectrogram
(:func:`harness.checks.data.rhythm.rhythm_descriptor`: MFCC summaries see which sounds occur,
not in which order), folds grouped by artist (no artist's other tracks vouch for its labels) and
stratified by genre. When the run embedded its clips with the pretrained musicnn (MSD) network,
a second base classifier reads those embeddings (its penultimate layer, the clip's mean over 3 s
patches: a cross-validated probe), and the one with the lower out-of-fold log loss on the same
tracks is used: on real music the embeddings hear genre far better than MFCC statistics; the
synthetic set is made to be heard by MFCC and rhythm. The finding names the inputs used and the
ones passed over. Its strength is the one of
:data:`~harness.checks.data.mislabel_classifier.C_GRID` with the lowest out-of-fold log loss:
the best calibrated, since the flags read probabilities.

**Flags.** Tracks ranked by cleanlab's label quality (self-confidence), lowest first; a track is
flagged when the classifier gives its genre at most :data:`MAX_P_GIVEN` and another genre at
least :data:`MIN_MARGIN` more, within cleanlab's estimate of the wrong labels (calibrated
confident joint, Northcutt et al. 2021): per given genre and in all, at most the 95% upper bound
of that count. On synthetic sets with 5% to 10% planted wrong labels (base accuracy 0.81 to
0.93) this flags 3% to 9% of the tracks at precision >= 0.87 and recall >= 0.81.

**Reliability.** A genre pair the classifier cannot tell apart looks like label noise. Below
:data:`MIN_ACCURACY` or :data:`MIN_MACRO_F1` out of fold (real-music baselines reach 0.5 to 0.6)
the classifier is weak: the check says so and lists at most :data:`WEAK_FRACTION` of each split,
with a margin of at least :data:`WEAK_MARGIN` (leads, not an estimate of the noise), or none
when it is barely better than chance (Cohen's kappa below
:data:`~harness.checks.data.mislabel_classifier.MIN_KAPPA`). Given labels alone cannot tell a
weak classifier from very noisy ones (20% wrong labels also pull accuracy under the bar); the
finding says so.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.data.labels import given_labels
from harness.checks.data.mislabel_classifier import (
    MIN_ACCURACY,
    MIN_MACRO_F1,
    BaseClassifier,
    fit_base_classifier,
)
from harness.checks.registry import DataInputs
from harness.data.splits import split_groups

FAMILY = "labels"
NAME = "suspected_mislabels"
USABLE = ("ok", "short", "silent")  # decode statuses whose features the detector reads
MAX_P_GIVEN = 0.1  # a flag's out-of-fold probability of its given genre, at most
MIN_MARGIN = 0.2  # p(suggested) - p(given) of a flag, at least
WEAK_MARGIN = 0.5  # ... when the classifier is weak
WEAK_FRACTION = 0.02  # share of a split flagged at most when the classifier is weak


def detector_features(mfcc: pd.DataFrame, rhythm: pd.DataFrame | None) -> pd.DataFrame:
    """The detector's inputs: every MFCC statistic plus the rhythm descriptor when given.

    Parameters
    ----------
    mfcc : pd.DataFrame
        MFCC-140 table indexed by track_id (3-level columns feature / statistic / number, or
        flat ones); columns ``mfcc_<statistic>_<number>`` in the result.
    rhythm : pd.DataFrame, optional
        :func:`rhythm_descriptor` rows indexed by track_id (inner-joined); ``rhythm_<j>``.
    """
    if isinstance(mfcc.columns, pd.MultiIndex):
        names = ["mfcc_" + "_".join(str(p) for p in col[1:]) for col in mfcc.columns]
    else:
        names = [f"mfcc_{c}" for c in mfcc.columns]
    parts = [pd.DataFrame(mfcc.to_numpy(dtype=np.float64), index=mfcc.index, columns=names)]
    if rhythm is not None and not rhythm.empty:
        names = [f"rhythm_{j}" for j in range(rhythm.shape[1])]
        values = rhythm.to_numpy(dtype=np.float64)
        parts.append(pd.DataFrame(values, index=rhythm.index, columns=names))
    return pd.concat(parts, axis=1, join="inner")


def describe_features(columns: pd.Index) -> str:
    """``"140 MFCC statistics + 832 rhythm descriptors"`` for :func:`detector_features`
    columns, ``"musicnn-msd penultimate embeddings (200)"`` for pretrained ones (columns
    (source, representation, feature)), ``"<n> features"`` for others."""
    if isinstance(columns, pd.MultiIndex) and columns.nlevels == 3:
        blocks = pd.Series([c[:2] for c in columns]).value_counts(sort=False)
        return " + ".join(f"{s} {r} embeddings ({n})" for (s, r), n in blocks.items())
    prefixes = pd.Series([str(c).split("_", 1)[0] for c in columns]).value_counts()
    words = {"mfcc": "MFCC statistics", "rhythm": "rhythm descriptors"}
    if len(columns) and set(prefixes.index) <= set(words):
        return " + ".join(f"{prefixes[p]} {words[p]}" for p in words if p in prefixes.index)
    return f"{len(columns)} features"


def flag_positions(
    *, y_int: np.ndarray, base: BaseClassifier, split_of: np.ndarray
) -> tuple[np.ndarray, int]:
    """Row positions of the flagged tracks, most suspicious (lowest label quality) first, and
    cleanlab's estimated number of wrong labels.

    Parameters
    ----------
    y_int, split_of : np.ndarray, shape (n_tracks,)
        Given label indices into ``base.classes``; split of each track (the unit of a weak
        classifier's budget).
    base : BaseClassifier
    """
    from cleanlab.count import compute_confident_joint
    from cleanlab.rank import get_label_quality_scores
    from scipy.stats import chi2

    proba = base.proba
    p_given = proba[np.arange(len(y_int)), y_int]
    margin = proba.max(axis=1) - p_given
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny classes: cleanlab warns
        joint = compute_confident_joint(y_int, proba, calibrate=True)
    wrong = joint.sum(axis=1) - np.diag(joint)  # per given genre; sums to cleanlab's estimate
    if base.chance:
        return np.array([], dtype=int), int(wrong.sum())
    upper = np.floor(chi2.ppf(0.95, 2 * (np.append(wrong, wrong.sum()) + 1)) / 2).astype(int)
    order = np.argsort(get_label_quality_scores(y_int, proba), kind="stable")
    needed = MIN_MARGIN if base.credible else WEAK_MARGIN
    order = order[(p_given[order] <= MAX_P_GIVEN) & (margin[order] >= needed)]
    order = cap(order, y_int, dict(enumerate(upper[:-1].tolist())))[: upper[-1]]
    if not base.credible:
        sizes = pd.Series(split_of).value_counts()
        order = cap(order, split_of, {s: int(WEAK_FRACTION * n) for s, n in sizes.items()})
    return order, int(wrong.sum())


def cap(order: np.ndarray, key: np.ndarray, limit: dict) -> np.ndarray:
    """The first ``limit[key]`` positions of ``order`` per value of ``key`` (order kept)."""
    used: dict = {}
    kept = []
    for i in order:
        if used.get(key[i], 0) < limit.get(key[i], 0):
            used[key[i]] = used.get(key[i], 0) + 1
            kept.append(i)
    return np.asarray(kept, dtype=int)


def issue_table(
    *, keys: pd.Index, y_int: np.ndarray, proba: np.ndarray, classes: list[str], ranked: np.ndarray
) -> pd.DataFrame:
    """The flagged tracks, most suspicious first, with given and suggested genres.

    Parameters
    ----------
    keys : pd.Index
        track_id of each row of ``proba`` (out-of-fold probabilities, columns ``classes``).
    y_int : np.ndarray, shape (n_tracks,)
        Given label indices into ``classes``.
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
    alternatives: tuple[pd.DataFrame, ...] = (),
) -> CheckResult:
    """Tracks whose given genre a credible out-of-fold classifier confidently rejects.

    Parameters
    ----------
    features : pd.DataFrame
        Detector inputs indexed by track_id (rows with NaN or inf are left out), e.g.
        :func:`detector_features`.
    labels : pd.Series
        track_id -> given genre.
    groups : pd.Series
        track_id -> artist id (cross-validation groups).
    splits : pd.Series, optional
        track_id -> split, shown with each flag; the unit of a weak classifier's budget (the
        whole set when not given).
    random_state : int
        Seed of the folds.
    alternatives : tuple of pd.DataFrame
        Other detector inputs for the same tracks (e.g. pretrained embeddings): each gets its
        own base classifier on the tracks every input covers, and the one with the lowest
        out-of-fold log loss is used (the finding names it and the others).
    """
    tables = (features, *alternatives)
    keys = labels.index
    for table in tables:
        finite = np.isfinite(table.to_numpy(dtype=np.float64)).all(axis=1)
        keys = keys.intersection(table.index[finite])
    y = labels.loc[keys].astype(str).to_numpy()
    counts = pd.Series(y).value_counts()
    if len(keys) < 20 or counts.size < 2 or counts.min() < 2:
        return skip(
            FAMILY,
            NAME,
            f"too few labelled tracks with features ({len(keys)}) for a cross-validated baseline",
        )
    fits = [
        fit_base_classifier(
            X=table.loc[keys].to_numpy(dtype=np.float64),
            y=y,
            groups=groups.reindex(keys).fillna(-1).to_numpy(),
            features=describe_features(table.columns),
            random_state=random_state,
        )
        for table in tables
    ]
    base = min(fits, key=lambda fit: fit.log_loss)
    others = [f"{fit.features} ({fit.log_loss:.3f} against {base.log_loss:.3f})" for fit in fits]
    others = [text for fit, text in zip(fits, others, strict=True) if fit is not base]
    base = dataclasses.replace(base, compared="; ".join(others))
    y_int = np.searchsorted(base.classes, y)
    split_of = np.full(len(keys), "all", dtype=object)
    if splits is not None:
        split_of = splits.reindex(keys).fillna("none").astype(str).to_numpy()
    ranked, wrong = flag_positions(y_int=y_int, base=base, split_of=split_of)
    table = issue_table(
        keys=keys, y_int=y_int, proba=base.proba, classes=base.classes, ranked=ranked
    )
    if splits is not None:
        table.insert(1, "split", split_of[ranked])
    return mislabel_result(table, base=base, wrong=wrong)


def mislabel_result(table: pd.DataFrame, *, base: BaseClassifier, wrong: int) -> CheckResult:
    """The finding on the flags (:func:`issue_table`) and cleanlab's estimated number of
    ``wrong`` labels, with how far the base classifier can be trusted."""
    n = len(base.proba)
    estimate = f"{wrong} wrong labels ({100 * wrong / n:.0f}%)"
    flags = f"{len(table)} of {n} tracks ({100 * len(table) / n:.1f}%)"
    top = f"most suspicious: {id_list(table['track_id'], limit=6)}" if len(table) else "none"
    evidence = (
        table
        if len(table)
        else {
            "tracks": n,
            "estimated_wrong_labels": wrong,
            "accuracy": round(base.accuracy, 3),
            "macro_f1": round(base.macro_f1, 3),
            "kappa": round(base.kappa, 3),
            "features": base.features,
        }
    )
    if base.credible:
        return CheckResult(
            FAMILY,
            NAME,
            "WARN" if len(table) else "PASS",
            f"{flags} look mislabelled (out-of-fold p(given) <= {MAX_P_GIVEN:g}): {top} "
            f"(cleanlab estimates {estimate}; {base.describe()})",
            evidence=evidence,
            action="listen to the top-ranked tracks and fix genre_top where the suggestion is "
            "right; an estimated noise rate above a few percent caps every model's accuracy"
            if len(table)
            else "",
        )
    if base.chance:
        listed = f"it is barely better than chance (Cohen's kappa {base.kappa:.2f}): none listed"
    else:
        listed = (
            f"{flags} listed as leads (margin >= {WEAK_MARGIN:g}, at most "
            f"{100 * WEAK_FRACTION:g}% of a split): {top}"
        )
    return CheckResult(
        FAMILY,
        NAME,
        "WARN",
        f"base classifier too weak for credible mislabel flags ({base.describe()}; flags need "
        f"accuracy >= {MIN_ACCURACY:g} and macro F1 >= {MIN_MACRO_F1:g}): most of its "
        f"disagreements are its own confusion, so cleanlab's estimate of {estimate} "
        f"says little (many wrong labels would also lower its accuracy); {listed}",
        evidence=evidence,
        action="listen to the listed tracks, if any, but read no noise rate from this check "
        "until a stronger base classifier (more informative features) backs it",
    )


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The mislabel detector as a registered ``"data"`` check (:func:`suspected_mislabels` on
    the usable clips' MFCC-140 and rhythm inputs, and on their pretrained embeddings when the
    run computed them: whichever gives the lower out-of-fold log loss)."""
    if inputs.feature_table is None and inputs.pretrained is None:
        return [skip(FAMILY, NAME, "no feature table")]
    status = inputs.status
    usable = status.index[status["status"].isin(USABLE).to_numpy()]
    candidates = []
    if inputs.feature_table is not None:
        candidates.append(detector_features(inputs.feature_table, inputs.rhythm))
    if inputs.pretrained is not None:
        candidates.append(inputs.pretrained)
    features, *alternatives = [table[table.index.isin(usable)] for table in candidates]
    result = suspected_mislabels(
        features=features,
        alternatives=tuple(alternatives),
        labels=given_labels(inputs),
        groups=split_groups(inputs.tracks),
        splits=inputs.splits,
        random_state=inputs.seed,
    )
    return [result]
