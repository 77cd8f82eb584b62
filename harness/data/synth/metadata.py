"""The synthetic catalogue: artists, albums, track ids, genres, and the 52-column tracks.csv.

:func:`plan_catalogue` draws who made what (one root genre per artist, a palette of sub-genres
from the real taxonomy, albums, sparse 6-digit track ids); :func:`tracks_frame` turns the plan
into the tracks.csv table with plausible values in every column; :func:`write_tracks_csv`
writes it under the packaged 3-line header (byte-equal to the real one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.taxonomy import (
    CHALLENGE_GENRES,
    MEDIUM_COUNTS,
    SMALL_GENRES,
    packaged_genres,
    packaged_header,
)

LICENSES = (
    "Attribution-NonCommercial-ShareAlike 3.0 International",
    "Attribution-NonCommercial-NoDerivatives (aka Music Sharing) 3.0 International",
    "Attribution 4.0 International",
    "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
    "Attribution-ShareAlike",
)
ALBUM_TYPES = ("Album", "Album", "Album", "Single Tracks", "Live Performance", "Radio Program")
BIT_RATES = (320000, 256000, 192000, 160000, 128000)
PLACES = (
    ("Brooklyn, NY", 40.6782, -73.9442),
    ("Berlin, Germany", 52.5200, 13.4050),
    ("Montreal, Canada", 45.5017, -73.5673),
    ("Lisbon, Portugal", 38.7223, -9.1393),
    ("Austin, TX", 30.2672, -97.7431),
    ("Osaka, Japan", 34.6937, 135.5023),
)
_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sa", "bel", "nu", "dor", "fi", "mar", "zu")
_WORDS = ("night", "river", "glass", "echo", "paper", "summer", "static", "north", "blue", "dust")


def genre_counts(subset: str, n_tracks: int) -> dict[str, int]:
    """Tracks per root genre: balanced over SMALL_GENRES, or MEDIUM_COUNTS proportions.

    Medium genres get at least 6 tracks (so an artist-grouped split can place them).
    """
    if subset == "small":
        base, extra = divmod(n_tracks, len(SMALL_GENRES))
        return {g: base + (i < extra) for i, g in enumerate(SMALL_GENRES)}
    floor = 6
    weights = np.array([MEDIUM_COUNTS[g] for g in CHALLENGE_GENRES], dtype=float)
    spare = max(n_tracks - floor * len(weights), 0)
    share = weights / weights.sum() * spare
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts))[: spare - counts.sum()]] += 1
    return {g: floor + int(c) for g, c in zip(CHALLENGE_GENRES, counts, strict=True)}


def _name(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(_SYLLABLES, size=n)).capitalize()


def _title(rng: np.random.Generator) -> str:
    return " ".join(str(w).capitalize() for w in rng.choice(_WORDS, size=rng.integers(1, 4)))


def _subtree(root_id: int) -> np.ndarray:
    g = packaged_genres()
    return g.index[(g["top_level"] == root_id) & (g["#tracks"] > 0)].to_numpy()


def _root_id(title: str) -> int:
    g = packaged_genres()
    return int(g.index[(g["title"] == title) & (g["parent"] == 0)][0])


def ancestors(genre_ids: list[int]) -> list[int]:
    """``genres_all``: the ids plus every ancestor up to the root, sorted."""
    parent = packaged_genres()["parent"]
    out: set[int] = set()
    for gid in genre_ids:
        while gid != 0:
            out.add(int(gid))
            gid = int(parent[gid])
    return sorted(out)


def genre_palette(genre: str, rng: np.random.Generator) -> list[int]:
    """1-3 genre ids from the subtree of root ``genre`` (the root itself allowed)."""
    ids = _subtree(_root_id(genre))
    return sorted(
        int(i) for i in rng.choice(ids, size=min(len(ids), rng.integers(1, 4)), replace=False)
    )


def plan_catalogue(
    *, subset: str, n_tracks: int, n_multi_root: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Who made which track: one row per track of the subset plus metadata-only tracks.

    Returns
    -------
    pd.DataFrame
        Index ``track_id`` (sorted); columns genre (root title or "" for multi-root),
        genres (list of int), artist_id, album_id, album_track (position), subset, audio (bool).
    """
    rows = []
    artist_id = int(rng.integers(1, 200))
    for genre, count in genre_counts(subset, n_tracks).items():
        left = count
        while left > 0:
            size = int(min(left, rng.integers(1, min(9, max(2, count // 4) + 1))))
            palette = genre_palette(genre, rng)
            n_albums = int(rng.integers(1, 3))
            album_ids = artist_id * 10 + np.arange(n_albums)
            for k in range(size):
                picks = rng.choice(
                    palette, size=rng.integers(1, min(2, len(palette)) + 1), replace=False
                )
                rows.append(
                    (
                        genre,
                        sorted(int(p) for p in picks),
                        artist_id,
                        int(album_ids[k % n_albums]),
                        True,
                    )
                )
            artist_id += int(rng.integers(1, 30))
            left -= size
    for _ in range(n_multi_root):
        a, b = rng.choice(len(CHALLENGE_GENRES), size=2, replace=False)
        genres = [int(rng.choice(_subtree(_root_id(CHALLENGE_GENRES[i])))) for i in (a, b)]
        rows.append(("", sorted(genres), artist_id, artist_id * 10, False))
        artist_id += int(rng.integers(1, 30))
    plan = pd.DataFrame(rows, columns=["genre", "genres", "artist_id", "album_id", "audio"])
    ids = np.sort(rng.choice(np.arange(2, 160000), size=len(plan), replace=False))
    plan.index = pd.Index(rng.permutation(ids), name="track_id")
    plan = plan.sort_index()
    plan["album_track"] = plan.groupby("album_id").cumcount() + 1
    plan["subset"] = np.where(plan["audio"], subset, "large")
    if subset == "medium":
        plan["subset"] = _mark_small(plan, rng)
    return plan


def _mark_small(plan: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """In a medium set, a balanced half of the small-genre tracks is subset "small" (as in FMA)."""
    subset = plan["subset"].to_numpy(copy=True)
    counts = plan[plan["audio"]].groupby("genre").size()
    k = int(min(counts.get(g, 0) for g in SMALL_GENRES) // 2)
    for g in SMALL_GENRES:
        ids = np.flatnonzero((plan["genre"] == g).to_numpy())
        subset[rng.choice(ids, size=k, replace=False)] = "small"
    return subset


def _date(rng: np.random.Generator, start: int, end: int, size: int) -> list[str]:
    base = pd.Timestamp(f"{start}-01-01").value // 10**9
    span = pd.Timestamp(f"{end}-01-01").value // 10**9 - base
    secs = base + rng.integers(0, span, size=size)
    return [pd.Timestamp(int(s), unit="s").strftime("%Y-%m-%d %H:%M:%S") for s in secs]


def tracks_frame(
    plan: pd.DataFrame, *, splits: pd.Series, rng: np.random.Generator
) -> pd.DataFrame:
    """The tracks.csv table: 52 columns in file order, values as they are written to disk.

    Parameters
    ----------
    plan : pd.DataFrame
        From :func:`plan_catalogue` (``genre``/``genres`` possibly rewritten by mislabelling).
    splits : pd.Series
        Split name per track_id.
    """
    n = len(plan)
    artists = plan["artist_id"].to_numpy()
    uniq, inv = np.unique(artists, return_inverse=True)
    a_name = np.array([f"{_name(rng, 2)} {_name(rng, 3)}" for _ in uniq])[inv]
    place = rng.integers(0, len(PLACES), size=len(uniq))[inv]
    has_place = rng.random(len(uniq))[inv] < 0.6
    albums = plan["album_id"].to_numpy()
    a_uniq, a_inv = np.unique(albums, return_inverse=True)
    album_titles = np.array([_title(rng) for _ in a_uniq])[a_inv]
    album_size = plan.groupby("album_id")["album_id"].transform("size").to_numpy()
    lists = lambda values: [str(list(v)) for v in values]  # noqa: E731
    c: dict[tuple[str, str], object] = {
        ("album", "comments"): rng.integers(0, 3, n),
        ("album", "date_created"): np.array(_date(rng, 2009, 2017, len(a_uniq)))[a_inv],
        ("album", "date_released"): np.array(_date(rng, 2000, 2017, len(a_uniq)))[a_inv],
        ("album", "engineer"): None,
        ("album", "favorites"): rng.integers(0, 10, len(a_uniq))[a_inv],
        ("album", "id"): albums,
        ("album", "information"): np.where(rng.random(n) < 0.3, "<p>Recorded at home.</p>", None),
        ("album", "listens"): rng.integers(100, 50000, len(a_uniq))[a_inv],
        ("album", "producer"): None,
        ("album", "tags"): "[]",
        ("album", "title"): album_titles,
        ("album", "tracks"): album_size,
        ("album", "type"): np.array(ALBUM_TYPES)[rng.integers(0, len(ALBUM_TYPES), len(a_uniq))][
            a_inv
        ],
        ("artist", "active_year_begin"): np.array(
            [f"{y}-01-01 00:00:00" for y in rng.integers(1990, 2012, len(uniq))]
        )[inv],
        ("artist", "active_year_end"): None,
        ("artist", "associated_labels"): None,
        ("artist", "bio"): np.where(
            rng.random(len(uniq)) < 0.5, "<p>Independent artist.</p>", None
        )[inv],
        ("artist", "comments"): rng.integers(0, 5, len(uniq))[inv],
        ("artist", "date_created"): np.array(_date(rng, 2008, 2016, len(uniq)))[inv],
        ("artist", "favorites"): rng.integers(0, 50, len(uniq))[inv],
        ("artist", "id"): artists,
        ("artist", "latitude"): np.where(has_place, [PLACES[i][1] for i in place], np.nan),
        ("artist", "location"): np.where(has_place, [PLACES[i][0] for i in place], None),
        ("artist", "longitude"): np.where(has_place, [PLACES[i][2] for i in place], np.nan),
        ("artist", "members"): None,
        ("artist", "name"): a_name,
        ("artist", "related_projects"): None,
        ("artist", "tags"): [str([str(t).lower()]) for t in a_name],
        ("artist", "website"): [f"http://{str(t).split()[0].lower()}.example.org" for t in a_name],
        ("artist", "wikipedia_page"): None,
        ("set", "split"): splits.reindex(plan.index).to_numpy(),
        ("set", "subset"): plan["subset"].to_numpy(),
        ("track", "bit_rate"): np.array(BIT_RATES)[rng.integers(0, len(BIT_RATES), n)],
        ("track", "comments"): rng.integers(0, 3, n),
        ("track", "composer"): None,
        ("track", "date_created"): _date(rng, 2009, 2017, n),
        ("track", "date_recorded"): None,
        ("track", "duration"): rng.integers(60, 480, n),
        ("track", "favorites"): rng.integers(0, 20, n),
        ("track", "genre_top"): plan["genre"].replace("", None).to_numpy(),
        ("track", "genres"): lists(plan["genres"]),
        ("track", "genres_all"): lists(ancestors(list(g)) for g in plan["genres"]),
        ("track", "information"): None,
        ("track", "interest"): rng.integers(100, 20000, n),
        ("track", "language_code"): np.where(rng.random(n) < 0.4, "en", None),
        ("track", "license"): np.array(LICENSES)[rng.integers(0, len(LICENSES), n)],
        ("track", "listens"): rng.integers(50, 10000, n),
        ("track", "lyricist"): None,
        ("track", "number"): plan["album_track"].to_numpy(),
        ("track", "publisher"): None,
        ("track", "tags"): "[]",
        ("track", "title"): [_title(rng) for _ in range(n)],
    }
    columns = header_columns()
    frame = pd.DataFrame({k: c[k] for k in columns}, index=plan.index)
    frame.columns = pd.MultiIndex.from_tuples(columns)
    return frame


def header_columns() -> list[tuple[str, str]]:
    """The 52 (level 0, level 1) column names in file order, read from the packaged header."""
    lines = packaged_header("tracks").splitlines()
    return list(zip(lines[0].split(",")[1:], lines[1].split(",")[1:], strict=True))


def write_tracks_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` under the packaged header, atomically (tmp file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(packaged_header("tracks"))
        frame.to_csv(f, header=False, lineterminator="\n")
    tmp.replace(path)
