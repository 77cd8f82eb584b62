"""Splits: official set.split, the artist-grouped stratified re-split, leakage detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.data import fma, splits
from harness.data.splits import SPLITS
from harness.errors import DataError, ParameterError

TRACKS = Path(__file__).parents[1] / "fixtures" / "fma_tiny" / "fma_metadata" / "tracks.csv"
GENRES = ("Rock", "Electronic", "Pop", "Folk", "Hip-Hop", "Jazz")


def made_up_tracks(*, n_artists: int = 250, seed: int = 0) -> pd.DataFrame:
    """A tracks-like table: artists with 1-5 tracks, mostly one genre, a few without genre_top."""
    rng = np.random.default_rng(seed)
    rows = []
    for artist in range(n_artists):
        genre = rng.choice(GENRES, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
        for k in range(int(rng.integers(1, 6))):
            top = genre if rng.random() > 0.05 else None
            rows.append((len(rows) + 1, 1000 + artist, 10 * artist + k // 2, top, "training"))
    df = pd.DataFrame(rows, columns=["track_id", "a", "b", "c", "d"]).set_index("track_id")
    df.columns = pd.MultiIndex.from_tuples(
        [("artist", "id"), ("album", "id"), ("track", "genre_top"), ("set", "split")]
    )
    return df


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return made_up_tracks()


@pytest.fixture(scope="module")
def split(table) -> pd.Series:
    return splits.make_splits(table, seed=0)


def test_make_splits_shape(table, split):
    assert len(table) > 300
    assert split.index.equals(table.index)
    assert split.name == "split"
    assert set(split) == set(SPLITS)
    assert all(type(v) is str for v in split)


def test_artist_grouping(table, split):
    per_artist = split.groupby(table["artist", "id"]).nunique()
    assert (per_artist == 1).all()
    leaks = splits.check_leakage(table, split)
    assert leaks.empty
    assert list(leaks.columns) == ["kind", "id", "splits", "n_tracks"]


def test_proportions_per_genre(table, split):
    genre = table["track", "genre_top"]
    share = pd.crosstab(genre, split, normalize="index")
    for g in GENRES:
        for s, target in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
            assert abs(share.at[g, s] - target) <= 0.02, (g, s, share.loc[g].to_dict())
    overall = split.value_counts(normalize=True)
    assert abs(overall["training"] - 0.8) <= 0.02


def test_tracks_without_genre_get_a_split(table, split):
    none = table["track", "genre_top"].isna()
    assert none.sum() > 0
    assert split[none].isin(SPLITS).all()


def test_determinism_and_seed(table, split):
    again = splits.make_splits(table, seed=0)
    assert again.equals(split)
    other = splits.make_splits(table, seed=1)
    assert (other != split).sum() > 10
    assert (other.groupby(table["artist", "id"]).nunique() == 1).all()


def test_other_fractions(table):
    split = splits.make_splits(table, seed=0, fractions=(0.6, 0.2, 0.2))
    share = split.value_counts(normalize=True)
    assert abs(share["test"] - 0.2) <= 0.02
    for bad in [(0.8, 0.2), (0.8, 0.1, 0.2), (1.0, 0.0, 0.0)]:
        with pytest.raises(ParameterError, match="fractions must be 3 positive numbers"):
            splits.make_splits(table, fractions=bad)


def test_tracks_without_artist_are_own_group():
    table = made_up_tracks(n_artists=40)
    table["artist", "id"] = np.nan
    split = splits.make_splits(table, seed=0)
    assert split.isin(SPLITS).all()
    assert 0.7 < (split == "training").mean() < 0.9


def test_get_splits_official_and_resplit():
    tracks = fma.load_tracks(TRACKS)
    official = splits.get_splits(tracks)
    assert official.attrs["source"] == "official"
    assert official.to_dict() == {
        2: "training",
        3: "training",
        5: "validation",
        10: "test",
        20: "training",
        26: "validation",
        46: "test",
        140: "training",
    }
    redone = splits.get_splits(tracks, resplit=True, seed=0)
    assert redone.attrs["source"] == "resplit"
    assert redone.index.equals(tracks.index)
    no_split = tracks.drop(columns=[("set", "split")])
    assert splits.get_splits(no_split).attrs["source"] == "resplit"
    empty = tracks.copy()
    empty["set", "split"] = np.nan
    assert splits.get_splits(empty).attrs["source"] == "resplit"


def test_get_splits_bad_values():
    tracks = fma.load_tracks(TRACKS)
    bad = tracks.copy()
    bad.loc[26, ("set", "split")] = "train"
    with pytest.raises(DataError, match=r"row track_id=26, column \('set', 'split'\).*'train'"):
        splits.get_splits(bad)
    partial = tracks.copy()
    partial.loc[[5, 46], ("set", "split")] = np.nan
    with pytest.raises(DataError, match=r"empty for 2 of 8 tracks \(first: track_id=5\)"):
        splits.get_splits(partial)
    assert splits.get_splits(bad, resplit=True).isin(SPLITS).all()


def test_check_leakage_finds_artists_and_albums():
    tracks = fma.load_tracks(TRACKS)
    leaks = splits.check_leakage(tracks, splits.get_splits(tracks))
    # the fixture's album 4 holds track 20 (training) and track 26 (validation)
    assert leaks.to_dict("records") == [
        {"kind": "album", "id": 4, "splits": "training,validation", "n_tracks": 2}
    ]
    moved = splits.get_splits(tracks).copy()
    moved[3] = "test"  # artist 1 and album 1 now span training and test
    leaks = splits.check_leakage(tracks, moved)
    assert ("artist", 1, "training,test", 2) in set(leaks.itertuples(index=False, name=None))
    assert ("album", 1, "training,test", 2) in set(leaks.itertuples(index=False, name=None))
    no_album = tracks.copy()
    no_album[("album", "id")] = -1
    assert splits.check_leakage(no_album, splits.get_splits(tracks)).empty
    # tracks outside the split series are ignored
    assert splits.check_leakage(tracks, moved.drop(index=[3, 26])).empty


def test_a_small_collection_still_gets_a_test_split():
    # 6 labels of 5 one-clip artists: each label fills training and then ties between
    # validation and test; always taking validation left test empty
    table = pd.DataFrame(
        {("artist", "id"): np.arange(30), ("track", "genre_top"): np.repeat(list("abcdef"), 5)}
    )
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    counts = splits.make_splits(table, seed=0).value_counts().to_dict()
    assert counts == {"training": 24, "validation": 3, "test": 3}
