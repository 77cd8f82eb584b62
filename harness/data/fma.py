"""Read the FMA metadata files exactly as the dataset ships them.

Conventions (those of the reference loader ``mdeff/fma/utils.py``, ported to current pandas):

- ``tracks.csv`` has three header lines (column level 0, column level 1, index name) and is read
  with ``read_csv(index_col=0, header=[0, 1])``: index ``track_id`` (int), 2-level columns such as
  ``("track", "genre_top")``.
- The list columns (:data:`LIST_COLUMNS`) hold Python list literals such as ``[21, 811]``; they are
  parsed with :func:`ast.literal_eval` (never ``eval``), each distinct cell text once.
- Date columns (:data:`DATE_COLUMNS`) become ``datetime64``; ``("set", "subset")`` becomes an
  ordered category ``small < medium < large`` (``< full`` when present), so
  ``tracks["set", "subset"] <= "medium"`` selects small and medium; :data:`CATEGORY_COLUMNS`
  become (unordered) categories.
- ``features.csv`` has four header lines (feature / statistics / number / track_id) and is read
  with ``header=[0, 1, 2]``.

Malformed input raises :class:`~harness.errors.DataError` with a one-line message naming the file,
the line, row or column, what was expected and what to do.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.layout import SUBSETS
from harness.data.taxonomy import packaged_header
from harness.errors import DataError, ParameterError

LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("track", "tags"),
    ("album", "tags"),
    ("artist", "tags"),
    ("track", "genres"),
    ("track", "genres_all"),
)
INT_LIST_COLUMNS = frozenset({("track", "genres"), ("track", "genres_all")})
DATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("track", "date_created"),
    ("track", "date_recorded"),
    ("album", "date_created"),
    ("album", "date_released"),
    ("artist", "date_created"),
    ("artist", "active_year_begin"),
    ("artist", "active_year_end"),
)
CATEGORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("track", "genre_top"),
    ("track", "license"),
    ("album", "type"),
    ("album", "information"),
    ("artist", "bio"),
)
#: Columns the harness relies on; a tracks.csv without one of them is rejected.
REQUIRED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("set", "split"),
    ("set", "subset"),
    ("track", "genre_top"),
    ("track", "genres"),
    ("track", "genres_all"),
    ("artist", "id"),
    ("album", "id"),
)
GENRES_COLUMNS = ("#tracks", "parent", "title", "top_level")


def _require_file(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path.name}: file not found at {path}; download fma_metadata.zip from "
            f"https://github.com/mdeff/fma or generate a synthetic set with "
            f"`fma-harness data synth` ({what})"
        )
    return path


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, IndexError) as exc:
        detail = " ".join(str(exc).split())
        raise DataError(
            f"{path.name}: could not be parsed as CSV ({detail}); "
            f"check that the file is complete and unmodified"
        ) from exc


def _check_header(path: Path, *, n_lines: int, first: str) -> None:
    """Check the raw header: ``n_lines`` header lines, the last one starting with ``track_id``."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = [f.readline() for _ in range(n_lines)]
    if not lines[0].startswith(first):
        raise DataError(
            f"{path.name}: line 1 should start with {first!r}, found {lines[0][:40]!r}; "
            f"is this the right file?"
        )
    if not lines[-1].startswith("track_id,"):
        raise DataError(
            f"{path.name}: line {n_lines} should be the index name line 'track_id,,,...' "
            f"({n_lines} header lines expected), found {lines[-1][:40]!r}; "
            f"the file must keep its original header"
        )


def _check_index(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    if df.index.name != "track_id":
        raise DataError(f"{path.name}: index column should be 'track_id', got {df.index.name!r}")
    if not pd.api.types.is_integer_dtype(df.index.dtype):
        bad = next(v for v in df.index if not str(v).lstrip("-").isdigit())
        raise DataError(
            f"{path.name}: track_id {bad!r} is not an integer; every row must start with an id"
        )
    dup = df.index[df.index.duplicated()]
    if len(dup):
        raise DataError(
            f"{path.name}: track_id {int(dup[0])} appears more than once; ids must be unique"
        )
    return df


def _parse_list_column(col: pd.Series, name: tuple[str, str], path: Path) -> pd.Series:
    """Parse list literals, each distinct text once; name the first bad row and column."""
    cache: dict[str, list] = {}
    want_int = name in INT_LIST_COLUMNS
    for track_id, text in col.items():
        if isinstance(text, str) and text in cache:
            continue
        try:
            value = ast.literal_eval(text) if isinstance(text, str) else None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        ok = isinstance(value, list) and (
            not want_int or all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        )
        if not ok:
            shown = "an empty cell" if not isinstance(text, str) else repr(text[:40])
            kind = "a list of genre ids like [21, 811]" if want_int else "a list literal like ['a']"
            raise DataError(
                f"{path.name}: row track_id={track_id}, column {name}: expected {kind}, "
                f"found {shown}; restore the original file"
            )
        cache[text] = value
    return col.map(lambda t: list(cache[t]))


def _parse_dates(col: pd.Series, name: tuple[str, str], path: Path) -> pd.Series:
    parsed = pd.to_datetime(col, errors="coerce", format="ISO8601").astype("datetime64[us]")
    bad = parsed.isna() & col.notna()
    if bad.any():
        track_id = bad.index[bad.argmax()]
        raise DataError(
            f"{path.name}: row track_id={track_id}, column {name}: expected a date like "
            f"'2008-11-26 01:44:45', found {col[track_id]!r}; fix or blank the cell"
        )
    return parsed


def _subset_category(col: pd.Series, path: Path) -> pd.Series:
    order = [s for s in SUBSETS if s != "full"]
    if (col == "full").any():
        order.append("full")
    bad = col.notna() & ~col.isin(order)
    if bad.any():
        track_id = bad.index[bad.argmax()]
        raise DataError(
            f"{path.name}: row track_id={track_id}, column ('set', 'subset'): expected one of "
            f"{', '.join(order)}, found {col[track_id]!r}"
        )
    return col.astype(pd.CategoricalDtype(order, ordered=True))


def load_tracks(path: str | Path) -> pd.DataFrame:
    """Load ``tracks.csv`` as the reference loader does, on current pandas.

    Parameters
    ----------
    path : str or Path
        The ``fma_metadata/tracks.csv`` file.

    Returns
    -------
    pd.DataFrame
        Shape (n_tracks, 52) for the real file. Index ``track_id`` (int64); 2-level columns;
        list columns hold Python lists (of int for genre columns, of str for tags); dates are
        ``datetime64``; ``("set", "subset")`` is an ordered category.

    Raises
    ------
    DataError
        The file is missing, its header is not the 3-line FMA header, a required column is
        missing, or a cell cannot be parsed (the message names row and column).
    """
    path = _require_file(Path(path), "tracks.csv")
    _check_header(path, n_lines=3, first=",")
    tracks = _check_index(_read_csv(path, index_col=0, header=[0, 1]), path)
    for name in REQUIRED_COLUMNS:
        if name not in tracks.columns:
            raise DataError(
                f"{path.name}: missing column {name}; is this the fma_metadata of the rc1 "
                f"release? Download the current fma_metadata.zip"
            )
    for name in LIST_COLUMNS:
        if name in tracks.columns:
            tracks[name] = _parse_list_column(tracks[name], name, path)
    for name in DATE_COLUMNS:
        if name in tracks.columns:
            tracks[name] = _parse_dates(tracks[name], name, path)
    tracks["set", "subset"] = _subset_category(tracks["set", "subset"], path)
    for name in CATEGORY_COLUMNS:
        if name in tracks.columns:
            tracks[name] = tracks[name].astype("category")
    return tracks


def load_genres(path: str | Path) -> pd.DataFrame:
    """Load ``genres.csv``.

    Returns
    -------
    pd.DataFrame
        Index ``genre_id`` (int); columns ``#tracks``, ``parent``, ``title``, ``top_level``
        (``parent == 0`` marks the 16 root genres).
    """
    path = _require_file(Path(path), "genres.csv")
    genres = _read_csv(path, index_col=0)
    if genres.index.name != "genre_id":
        raise DataError(
            f"{path.name}: line 1 should start with 'genre_id', found {genres.index.name!r}"
        )
    for name in GENRES_COLUMNS:
        if name not in genres.columns:
            raise DataError(
                f"{path.name}: missing column {name!r}; expected header "
                f"'genre_id,{','.join(GENRES_COLUMNS)}'"
            )
    for name in ("parent", "top_level", "#tracks"):
        if not pd.api.types.is_integer_dtype(genres[name].dtype):
            raise DataError(f"{path.name}: column {name!r} should hold integers only")
    if not pd.api.types.is_integer_dtype(genres.index.dtype):
        raise DataError(f"{path.name}: column 'genre_id' should hold integers only")
    return genres


def load_features(path: str | Path) -> pd.DataFrame:
    """Load the official ``features.csv`` (518 librosa statistics per track).

    Returns
    -------
    pd.DataFrame
        Index ``track_id``; 3-level columns (feature, statistics, number), e.g.
        ``("mfcc", "mean", "01")``; float64 values.
    """
    path = _require_file(Path(path), "features.csv")
    _check_header(path, n_lines=4, first="feature,")
    feats = _check_index(_read_csv(path, index_col=0, header=[0, 1, 2]), path)
    expected = [tuple(c) for c in _header_columns(packaged_header("features"))]
    found = [tuple(str(x) for x in c) for c in feats.columns]
    missing = [c for c in expected if c not in set(found)]
    extra = [c for c in found if c not in set(expected)]
    if missing or extra:
        what = f"missing column {missing[0]}" if missing else f"unexpected column {extra[0]}"
        raise DataError(
            f"{path.name}: {what} ({len(found)} columns, {len(expected)} expected); "
            f"use the features.csv of fma_metadata.zip unmodified"
        )
    for name in feats.columns:
        if not pd.api.types.is_float_dtype(feats[name].dtype):
            num = pd.to_numeric(feats[name], errors="coerce")
            track_id = feats.index[(num.isna() & feats[name].notna()).argmax()]
            raise DataError(
                f"{path.name}: row track_id={track_id}, column {name}: expected a number, "
                f"found {feats.at[track_id, name]!r}"
            )
    return feats


def _header_columns(header: str) -> Iterable[tuple[str, ...]]:
    rows = [line.split(",")[1:] for line in header.splitlines()[:-1]]
    return zip(*rows, strict=True)


def audio_path(audio_dir: str | Path, track_id: int) -> Path:
    """Path of a clip: ``audio_dir/NNN/NNNNNN.mp3`` (6-digit zero-padded id, first 3 digits)."""
    tid = f"{int(track_id):06d}"
    return Path(audio_dir) / tid[:3] / f"{tid}.mp3"


def require_audio_dir(root: str | Path, subset: str) -> Path:
    """The audio directory ``root/fma_<subset>``; DataError naming the path when it is absent."""
    if subset not in SUBSETS:
        raise ParameterError(f"Unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    path = Path(root) / f"fma_{subset}"
    if not path.is_dir():
        raise DataError(
            f"fma_{subset}: audio directory not found at {path}; unzip fma_{subset}.zip beside "
            f"fma_metadata or point --root at the dataset"
        )
    return path


def select_subset(tracks: pd.DataFrame, subset: str) -> pd.DataFrame:
    """Rows of ``subset`` (each subset contains the smaller ones; ``full`` is every track)."""
    if subset not in SUBSETS:
        raise ParameterError(f"Unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    col = tracks["set", "subset"]
    if subset == "full":
        return tracks
    return tracks[(col <= subset).to_numpy(dtype=bool, na_value=False)]


def genre_top_labels(tracks: pd.DataFrame) -> pd.Series:
    """Single-label targets: ``genre_top`` as str, rows without one dropped.

    Returns
    -------
    pd.Series
        Index ``track_id``, name ``genre_top``, str values; ``.attrs["n_dropped"]`` counts the
        tracks left out because their ``genre_top`` is empty.
    """
    col = tracks["track", "genre_top"]
    keep = col.notna()
    labels = col[keep].astype(str)
    labels.name = "genre_top"
    labels.attrs["n_dropped"] = int((~keep).sum())
    return labels


def genres_all_labels(
    tracks: pd.DataFrame, genres: pd.DataFrame, *, min_count: int = 1
) -> pd.DataFrame:
    """Multi-label targets from ``track.genres_all``, mapped to titles through ``genres``.

    Parameters
    ----------
    tracks : pd.DataFrame
        As returned by :func:`load_tracks` (``genres_all`` parsed to lists of ids).
    genres : pd.DataFrame
        As returned by :func:`load_genres`.
    min_count : int
        Genres with fewer tracks than this (among ``tracks``) are dropped.

    Returns
    -------
    pd.DataFrame
        Multi-hot int8, shape (n_kept, n_genres); index ``track_id``, columns genre titles in
        alphabetical order. Tracks left with no label are dropped: ``.attrs["n_dropped"]``;
        ``.attrs["dropped_genres"]`` lists the genres below ``min_count``.
    """
    if min_count < 1:
        raise ParameterError(f"min_count must be >= 1, got {min_count}")
    titles = genres["title"]
    lists = tracks["track", "genres_all"]
    ids = sorted({g for gl in lists for g in gl})
    unknown = [g for g in ids if g not in titles.index]
    if unknown:
        track_id = next(t for t, gl in lists.items() if unknown[0] in gl)
        raise DataError(
            f"tracks.csv: row track_id={track_id}, column ('track', 'genres_all'): genre id "
            f"{unknown[0]} is not in genres.csv; use the genres.csv of the same release"
        )
    col_of = {g: i for i, g in enumerate(ids)}
    data = np.zeros((len(lists), len(ids)), dtype=np.int8)
    for row, gl in enumerate(lists):
        data[row, [col_of[g] for g in gl]] = 1
    table = pd.DataFrame(data, index=tracks.index, columns=[titles[g] for g in ids])
    counts = table.sum(axis=0)
    dropped = sorted(counts.index[counts < min_count])
    table = table.drop(columns=dropped).sort_index(axis=1)
    keep = table.sum(axis=1) > 0
    table = table[keep]
    table.attrs["n_dropped"] = int((~keep).sum())
    table.attrs["dropped_genres"] = dropped
    return table
