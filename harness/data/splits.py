"""Training / validation / test splits: the official ``set.split``, or an artist-grouped re-split.

The re-split follows the recipe the FMA authors used for ``set.split`` (``creation.ipynb``):

1. Tracks are grouped by ``("artist", "id")``: an artist's tracks all land in one split (a track
   without an artist id is its own group).
2. Strata are the ``("track", "genre_top")`` values, plus one stratum for tracks without one.
   They are handled from the most constrained (fewest artists, then fewest tracks) to the least.
3. Within a stratum, the still unassigned artists are taken in descending order of their track
   count in that stratum (ties broken by a seeded shuffle) and each goes to the split that is
   furthest below its target for that stratum (target minus tracks already there, counting
   artists placed while handling earlier strata).

Greedy filling with the largest groups first leaves the small artists for the end, so each
genre ends within about one small artist of its target: within 2 points of 80/10/10 for any
genre with a few dozen tracks and enough artists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.errors import DataError, ParameterError

SPLITS: tuple[str, ...] = ("training", "validation", "test")
SPLIT_COLUMN = ("set", "split")
ARTIST_COLUMN = ("artist", "id")
ALBUM_COLUMN = ("album", "id")
GENRE_COLUMN = ("track", "genre_top")
# what a split kept together when it is not the artist (a folder or manifest dataset: the artist,
# else the audio group of harness.data.fingerprints)
SPLIT_GROUP_COLUMN = ("set", "group")
_NO_GENRE = "\x00no genre_top"


def _check_fractions(fractions: tuple[float, ...]) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (len(SPLITS),) or (f <= 0).any() or not np.isclose(f.sum(), 1.0):
        raise ParameterError(
            f"fractions must be {len(SPLITS)} positive numbers summing to 1 "
            f"(training, validation, test), got {fractions}"
        )
    return f


def _groups(tracks: pd.DataFrame) -> pd.Series:
    """Artist key per track (str); tracks without an artist id get their own key."""
    if ARTIST_COLUMN in tracks.columns:
        artist = tracks[ARTIST_COLUMN]
    else:
        artist = pd.Series(np.nan, index=tracks.index)
    keys = "a" + artist.astype("string").fillna("").astype(str)
    alone = artist.isna()
    return keys.where(~alone, "t" + tracks.index.astype(str).to_series(index=tracks.index))


def make_splits(
    tracks: pd.DataFrame, *, seed: int = 0, fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
) -> pd.Series:
    """Build an artist-grouped split stratified by ``genre_top`` (the FMA recipe).

    Parameters
    ----------
    tracks : pd.DataFrame
        Index ``track_id``; uses ``("artist", "id")`` and ``("track", "genre_top")``.
    seed : int
        Seed for breaking ties between artists of equal size; same seed, same split.
    fractions : tuple of float
        Target fractions of (training, validation, test); positive, summing to 1.

    Returns
    -------
    pd.Series
        Index ``track_id``, name ``split``, values in :data:`SPLITS` (str).
    """
    target = _check_fractions(fractions)
    if GENRE_COLUMN in tracks.columns:
        genre = tracks[GENRE_COLUMN].astype("string").fillna(_NO_GENRE).astype(str)
    else:
        genre = pd.Series(_NO_GENRE, index=tracks.index)
    group = _groups(tracks)
    table = pd.crosstab(group.to_numpy(), genre.to_numpy())  # artists x strata, track counts
    artists = table.index.to_numpy()
    counts = table.to_numpy()
    tiebreak = np.random.default_rng(seed).permutation(len(artists))
    order = _strata_order(table)
    assigned = _assign(counts, target, order, tiebreak, balance_ties=False)
    if len(set(assigned)) < len(SPLITS) <= len(artists):
        # every label too small to reach test (or validation): ties within a label always
        # went to the first split. Break them towards the split furthest below its share
        # overall instead; a split that was not left empty keeps the FMA recipe's result.
        assigned = _assign(counts, target, order, tiebreak, balance_ties=True)
    split_of = {a: SPLITS[s] for a, s in zip(artists, assigned, strict=True)}
    out = group.map(split_of).astype(str)
    out.name = "split"
    out.index.name = tracks.index.name
    return out


def _assign(
    counts: np.ndarray,
    target: np.ndarray,
    order: list[int],
    tiebreak: np.ndarray,
    *,
    balance_ties: bool,
) -> np.ndarray:
    """Split index of each artist (row of ``counts``, artists x strata): stratum by stratum,
    each artist to the split most below its share of the stratum (``balance_ties``: among
    equals, the split most below its share overall; else the first)."""
    assigned = np.full(counts.shape[0], -1)
    filled = np.zeros((counts.shape[1], len(SPLITS)))  # strata x splits, tracks placed
    totals, sizes = counts.sum(axis=0), counts.sum(axis=1)
    overall = target * totals.sum()
    for g in order:
        todo = np.flatnonzero((counts[:, g] > 0) & (assigned < 0))
        todo = todo[np.lexsort((tiebreak[todo], -sizes[todo], -counts[todo, g]))]
        for a in todo:
            need = target * totals[g] - filled[g]
            s = int(np.argmax(need))
            if balance_ties:
                tied = np.flatnonzero(need >= need.max() - 1e-9)
                s = int(tied[np.argmax(overall[tied] - filled.sum(axis=0)[tied])])
            assigned[a] = s
            filled[:, s] += counts[a]
    return assigned


def _strata_order(table: pd.DataFrame) -> list[int]:
    """Strata from the most constrained: fewest artists, then fewest tracks; no-genre last."""
    n_artists = (table > 0).sum(axis=0).to_numpy()
    n_tracks = table.sum(axis=0).to_numpy()
    last = np.array([c == _NO_GENRE for c in table.columns])
    names = np.array([str(c) for c in table.columns])
    return list(np.lexsort((names, n_tracks, n_artists, last)))


def get_splits(tracks: pd.DataFrame, *, resplit: bool = False, seed: int = 0) -> pd.Series:
    """The official ``set.split`` when present and complete, else :func:`make_splits`.

    Parameters
    ----------
    tracks : pd.DataFrame
        As returned by :func:`harness.data.fma.load_tracks` (or a subset of it).
    resplit : bool
        Ignore ``set.split`` and build an artist-grouped split with ``seed``.
    seed : int
        Seed for :func:`make_splits`.

    Returns
    -------
    pd.Series
        Index ``track_id``, name ``split``, values in :data:`SPLITS`; ``.attrs["source"]`` is
        ``"official"`` or ``"resplit"``.

    Raises
    ------
    DataError
        ``set.split`` holds a value outside :data:`SPLITS`, or is empty for only some rows.
    """
    col = tracks[SPLIT_COLUMN] if SPLIT_COLUMN in tracks.columns else None
    if resplit or col is None or col.isna().all():
        out = make_splits(tracks, seed=seed)
        out.attrs["source"] = "resplit"
        return out
    if col.isna().any():
        track_id = col.index[col.isna().argmax()]
        raise DataError(
            f"tracks.csv: column {SPLIT_COLUMN} is empty for {int(col.isna().sum())} of "
            f"{len(col)} tracks (first: track_id={track_id}); pass --resplit to build a split"
        )
    values = col.astype(str)
    bad = ~values.isin(SPLITS)
    if bad.any():
        track_id = values.index[bad.argmax()]
        raise DataError(
            f"tracks.csv: row track_id={track_id}, column {SPLIT_COLUMN}: expected one of "
            f"{', '.join(SPLITS)}, found {values[track_id]!r}; fix it or pass --resplit"
        )
    out = values.rename("split")
    out.attrs["source"] = "official"
    return out


def check_leakage(tracks: pd.DataFrame, splits: pd.Series) -> pd.DataFrame:
    """Artists and albums whose tracks sit in more than one split.

    Parameters
    ----------
    tracks : pd.DataFrame
        Uses ``("artist", "id")`` and ``("album", "id")``; missing and negative ids (a
        placeholder for "no album") are ignored.
    splits : pd.Series
        Index ``track_id``, values split names; tracks not in ``splits`` are ignored.

    Returns
    -------
    pd.DataFrame
        Columns ``kind`` ("artist" or "album"), ``id``, ``splits`` (comma-separated, in
        :data:`SPLITS` order), ``n_tracks``; one row per leaking artist or album, empty when
        there is no leakage.
    """
    rows = []
    common = tracks.index.intersection(splits.index)
    rank = {s: i for i, s in enumerate(SPLITS)}
    for kind, column in (("artist", ARTIST_COLUMN), ("album", ALBUM_COLUMN)):
        if column not in tracks.columns:
            continue
        frame = pd.DataFrame(
            {"id": tracks.loc[common, column], "split": splits.loc[common].astype(str)}
        ).dropna()
        frame = frame[pd.to_numeric(frame["id"], errors="coerce").fillna(0) >= 0]
        n_splits = frame.groupby("id")["split"].nunique()
        leaking = frame[frame["id"].isin(n_splits.index[n_splits > 1])]
        for key, sub in leaking.groupby("id", sort=True):
            found = sorted(set(sub["split"]), key=lambda s: rank.get(s, len(rank)))
            rows.append({"kind": kind, "id": key, "splits": ",".join(found), "n_tracks": len(sub)})
    return pd.DataFrame(rows, columns=["kind", "id", "splits", "n_tracks"])


def split_groups(tracks: pd.DataFrame) -> pd.Series:
    """track_id -> what must stay in one split (cross-validation groups): ``("set", "group")``
    when the tracks carry it (a folder or manifest dataset), else the artist id (NaN when
    unknown)."""
    for column in (SPLIT_GROUP_COLUMN, ARTIST_COLUMN):
        if column in tracks.columns:
            return tracks[column]
    return pd.Series(np.nan, index=tracks.index)
