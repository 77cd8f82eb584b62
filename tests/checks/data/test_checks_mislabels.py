"""The mislabel detector on hand-made feature tables (no audio): planted wrong labels found with
precision >= 0.5 at recall >= 0.75 when the features inform, and at most a few percent of a split
flagged (with the finding saying why) when they do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.checks.data import mislabels
from harness.checks.registry import DataInputs

GENRES = ["Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "Pop", "Rock", "Soul"]


def make_set(
    *, n_per_genre: int = 40, n_features: int = 16, spread: float = 1.5, seed: int = 0
) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """Gaussian genre clusters (``spread`` apart per feature, unit noise, an artist offset),
    4 tracks per artist, artists confined to one split (about 80/10/10).

    Returns
    -------
    features, true_labels, artists, splits
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, spread, size=(len(GENRES), n_features))
    n = n_per_genre * len(GENRES)
    genre = np.repeat(np.arange(len(GENRES)), n_per_genre)
    artist = np.arange(n) // 4
    artist_offset = rng.normal(0.0, 0.3, size=(artist.max() + 1, n_features))
    X = centres[genre] + artist_offset[artist] + rng.normal(size=(n, n_features))
    index = pd.Index(np.arange(1, n + 1) * 7, name="track_id")
    split_of_artist = rng.choice(
        ["training", "validation", "test"], p=[0.8, 0.1, 0.1], size=artist.max() + 1
    )
    return (
        pd.DataFrame(X, index=index),
        pd.Series(np.array(GENRES)[genre], index=index),
        pd.Series(artist, index=index),
        pd.Series(split_of_artist[artist], index=index),
    )


def plant(labels: pd.Series, splits: pd.Series, *, rate: float, seed: int = 0) -> pd.Series:
    """A copy with ``rate`` of the training tracks given another (random) genre."""
    rng = np.random.default_rng(seed + 1)
    training = labels.index[(splits == "training").to_numpy()]
    chosen = rng.choice(training, size=round(rate * len(training)), replace=False)
    given = labels.copy()
    for tid in chosen:
        given.loc[tid] = rng.choice([g for g in GENRES if g != labels.loc[tid]])
    return given


def flagged(result) -> set:
    return set(result.evidence["track_id"]) if isinstance(result.evidence, pd.DataFrame) else set()


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_wrong_labels_found_with_informative_features(seed):
    X, truth, artists, splits = make_set(seed=seed)
    given = plant(truth, splits, rate=0.05, seed=seed)
    planted = set(given.index[given != truth])
    result = mislabels.suspected_mislabels(
        features=X, labels=given, groups=artists, splits=splits, random_state=seed
    )
    hits = flagged(result) & planted
    assert result.verdict == "WARN", result.finding
    assert len(hits) / len(flagged(result)) >= 0.5 and len(hits) / len(planted) >= 0.75
    assert "out-of-fold accuracy" in result.finding and "macro F1" in result.finding
    assert "16 features" in result.finding  # which features the base classifier read
    table = result.evidence.set_index("track_id")
    assert {"split", "given", "suggested", "label_quality"} <= set(table.columns)
    for tid in hits:  # the suggestion is the true genre
        assert table.at[tid, "suggested"] == truth.loc[tid] != table.at[tid, "given"]
    assert table["label_quality"].is_monotonic_increasing  # most suspicious first


def test_clean_labels_flag_little():
    X, truth, artists, splits = make_set(seed=2)
    result = mislabels.suspected_mislabels(features=X, labels=truth, groups=artists, splits=splits)
    assert len(flagged(result)) <= 0.01 * len(truth), result.finding


@pytest.mark.parametrize("kind", ["random", "few weak columns"])
def test_weak_base_classifier_flags_at_most_a_few_percent(kind):
    X, truth, artists, splits = make_set(seed=3)
    rng = np.random.default_rng(3)
    given = truth
    if kind == "random":
        X = pd.DataFrame(rng.normal(size=X.shape), index=X.index)
    elif kind == "few weak columns":
        X = make_set(seed=3, n_features=3, spread=0.6)[0]
    else:
        given = plant(truth, splits, rate=0.2, seed=3)
    result = mislabels.suspected_mislabels(features=X, labels=given, groups=artists, splits=splits)
    assert result.verdict == "WARN"
    assert "too weak" in result.finding and "out-of-fold accuracy" in result.finding
    counts = splits.loc[sorted(flagged(result))].value_counts()
    sizes = splits.value_counts()
    assert all(counts[s] <= mislabels.WEAK_FRACTION * sizes[s] for s in counts.index)
    if kind == "random":
        assert not flagged(result) and "chance" in result.finding


def test_deterministic_given_the_seed():
    X, truth, artists, splits = make_set(seed=4)
    given = plant(truth, splits, rate=0.05, seed=4)
    runs = [
        mislabels.suspected_mislabels(
            features=X, labels=given, groups=artists, splits=splits, random_state=7
        )
        for _ in range(2)
    ]
    assert runs[0].finding == runs[1].finding
    pd.testing.assert_frame_equal(runs[0].evidence, runs[1].evidence)


def test_from_inputs_reads_every_mfcc_statistic_and_the_rhythm():
    X, truth, artists, splits = make_set(seed=5, n_features=14)
    given = plant(truth, splits, rate=0.05, seed=5)
    stats = ["kurtosis", "max", "mean", "median", "min", "skew", "std"]
    columns = pd.MultiIndex.from_tuples(
        [("mfcc", s, f"{i:02d}") for s in stats for i in range(1, 21)]
    )
    rng = np.random.default_rng(5)
    mfcc = pd.DataFrame(rng.normal(size=(len(X), 140)), index=X.index, columns=columns)
    mfcc.iloc[:, :14] = X.to_numpy()  # the informative columns
    rhythm = pd.DataFrame(rng.normal(size=(len(X), 8)), index=X.index)
    tracks = pd.DataFrame({("track", "genre_top"): given, ("artist", "id"): artists}, index=X.index)
    status = pd.DataFrame({"status": "ok"}, index=X.index)
    inputs = DataInputs(
        tracks=tracks, splits=splits, status=status, feature_table=mfcc, rhythm=rhythm, seed=0
    )
    (result,) = mislabels.from_inputs(inputs)
    assert "140 MFCC statistics + 8 rhythm descriptors" in result.finding
    planted = set(given.index[given != truth])
    assert len(flagged(result) & planted) >= 0.75 * len(planted)
