"""A catalogue of labelled clips (from a folder per label or a CSV manifest) as PreparedData.

The loaders of :mod:`harness.data.folders` and :mod:`harness.data.manifest` each read their
format into one catalogue table and hand it to :func:`prepare_catalogue`, which splits, labels
and lists the clips exactly as :func:`harness.data.prepared.prepare` does for FMA, so nothing
downstream knows which format the data came from.

Catalogue table: index ``key`` (str, the clip's path relative to the dataset, ``/``-separated);
columns ``path`` (absolute), ``label`` (str), and optionally ``labels`` (list of str, the
multi-label tags), ``artist``, ``album``, ``split``, ``duration``.

The tracks table handed on has FMA's 2-level columns: ``("track", "genre_top")`` (the label),
``("track", "title")`` (the key), ``("artist", "id")`` and ``("album", "id")`` (NaN where
unknown: the leakage checks then say so), ``("set", "split")`` and ``("set", "group")`` (what the
split was grouped by: artist, or the audio group of :mod:`harness.data.fingerprints`).

Splits, first that applies:

1. the catalogue's own ``split`` column (a manifest's), used as given;
2. a built-in split file (``split_file``: path -> split), e.g. GTZAN's fault-filtered split;
3. artist-grouped, stratified by label, seeded (:func:`harness.data.splits.make_splits`) when
   every clip has an artist;
4. otherwise grouped by audio fingerprint, stratified, seeded: repeated and near-identical
   excerpts (shifted up to 2 s, re-encoded) land in one split. Clips with an artist are grouped
   by it, the others by audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data.fingerprints import audio_groups
from harness.data.layout import FmaLayout
from harness.data.prepared import TASKS, PreparedData, drop_rare_labels
from harness.data.splits import SPLIT_GROUP_COLUMN, SPLITS, make_splits
from harness.errors import DataError, ParameterError

SPLIT_SOURCES = ("given", "built-in", "artist", "audio")


def tracks_table(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The FMA-style tracks table of a catalogue (index key, 2-level columns)."""
    index = pd.Index(catalogue.index, name="track_id", dtype=object)
    columns = {
        ("track", "title"): catalogue.index.to_numpy(dtype=object),
        ("track", "genre_top"): catalogue["label"].to_numpy(dtype=object),
        ("artist", "id"): _column(catalogue, "artist"),
        ("album", "id"): _album_ids(catalogue),
    }
    if "duration" in catalogue.columns:
        columns[("track", "duration")] = pd.to_numeric(catalogue["duration"]).to_numpy()
    tracks = pd.DataFrame(columns, index=index)
    tracks.columns = pd.MultiIndex.from_tuples(tracks.columns)
    return tracks


def _album_ids(catalogue: pd.DataFrame) -> np.ndarray:
    """An album is its title and its artist's (when known): two artists' albums called
    "Greatest Hits" are two albums."""
    albums, artists = _column(catalogue, "album"), _column(catalogue, "artist")
    keyed = [
        album if pd.isna(album) or pd.isna(artist) else f"{artist} / {album}"
        for album, artist in zip(albums, artists, strict=True)
    ]
    return np.array(keyed, dtype=object)


def _column(catalogue: pd.DataFrame, name: str) -> np.ndarray:
    if name not in catalogue.columns:
        return np.full(len(catalogue), np.nan, dtype=object)
    values = catalogue[name].astype(object)
    return values.where(values.notna() & (values.astype(str).str.strip() != ""), np.nan).to_numpy()


def catalogue_splits(
    catalogue: pd.DataFrame,
    tracks: pd.DataFrame,
    *,
    seed: int,
    resplit: bool = False,
    split_file: dict[str, str] | None = None,
) -> tuple[pd.Series, pd.Series]:
    """The split of every clip and what it was grouped by (see the module doc for the order).

    Returns
    -------
    splits : pd.Series
        key -> training / validation / test; ``attrs["source"]`` is one of
        :data:`SPLIT_SOURCES`.
    groups : pd.Series
        key -> the group label the split kept together (artist or audio group); for a given
        split, the artist when known, else the key.
    """
    artist = pd.Series(tracks[("artist", "id")].to_numpy(), index=tracks.index)
    if not resplit and "split" in catalogue.columns:
        out, source = catalogue["split"].astype(str).rename("split"), "given"
    elif not resplit and split_file is not None:
        out, source = catalogue.index.to_series().map(split_file).rename("split"), "built-in"
    else:
        out, source = None, "artist" if artist.notna().all() else "audio"
    groups = ("artist:" + artist.astype(str)).where(artist.notna(), None)
    if source == "audio":
        unknown = catalogue.index[artist.isna().to_numpy()]
        by_audio, _ = audio_groups(catalogue.loc[unknown, "path"].to_dict())
        groups = groups.fillna(by_audio)
    groups = groups.fillna(pd.Series(catalogue.index, index=catalogue.index)).astype(str)
    if out is None:
        frame = pd.DataFrame(
            {
                ("artist", "id"): groups.to_numpy(),
                ("track", "genre_top"): catalogue["label"].to_numpy(),
            },
            index=catalogue.index,
        )
        frame.columns = pd.MultiIndex.from_tuples(frame.columns)
        out = make_splits(frame, seed=seed)
    out = out.rename("split")
    out.index.name = "track_id"
    out.attrs["source"] = source
    groups.name = "group"
    return out, groups


def split_gaps(splits: pd.Series, *, where: Path | str) -> dict[str, str]:
    """Split name -> one line saying that it holds no clip and what to do (for its
    ``attrs["source"]``), for every empty split of ``splits``."""
    counts = splits.value_counts()
    shown = ", ".join(f"{name} {int(counts.get(name, 0))}" for name in SPLITS)
    source = splits.attrs.get("source", "given")
    todo = {
        "given": "mark some rows with that split in the split column, or remove the column "
        "(or pass --resplit) to let fma-harness split by artist",
        "built-in": "pass --resplit to split this collection by audio instead",
    }.get(source, "add clips (at least 10 per label), or give a split column in a manifest")
    consequence = {
        "training": "nothing to train on",
        "validation": "nothing to calibrate and stop on",
        "test": "the leaderboard has no test scores",
    }
    return {
        name: f"{where}: no clip is in the {name} split ({shown}; split source: {source}): "
        f"{consequence[name]}; {todo}"
        for name in SPLITS
        if not counts.get(name, 0)
    }


def catalogue_labels(
    catalogue: pd.DataFrame, splits: pd.Series, *, task: str, min_genre_count: int
) -> tuple[pd.Series | pd.DataFrame, list[str], dict[str, Any]]:
    """Labels, classes and the PreparedData extras of a catalogue for ``task``.

    ``genre_top``: the ``label`` column. ``genres_all``: a multi-hot table of the ``labels``
    column (the ``label`` alone where there is none), without the labels that fewer than
    ``min_genre_count`` training clips carry, and without the clips left with no label.
    """
    if task == "genre_top":
        labels = catalogue["label"].astype(str).rename("genre_top")
        labels.index.name = "track_id"
        return labels, sorted(labels.unique().tolist()), {}
    if min_genre_count < 1:
        raise ParameterError(f"min_genre_count must be >= 1, got {min_genre_count}")
    if "labels" in catalogue.columns:
        tags = catalogue["labels"]
    else:
        tags = catalogue["label"].map(lambda v: [v])
    names = sorted({t for row in tags for t in row})
    matrix = np.array([[t in set(row) for t in names] for row in tags], dtype=np.int8)
    labels = pd.DataFrame(
        matrix.reshape(len(tags), len(names)), index=catalogue.index, columns=names
    )
    labels.index.name = "track_id"
    labels, counts, dropped, notes = drop_rare_labels(
        labels, splits, min_count=min_genre_count, label="label", item="clip"
    )
    extras = {
        "dropped_genres": dropped,
        "notes": notes,
        "min_genre_count": min_genre_count,
        "genre_parents": {str(g): None for g in counts.index},
    }
    return labels, list(labels.columns), extras


def prepare_catalogue(
    catalogue: pd.DataFrame,
    *,
    root: Path,
    source: str,
    task: str = "genre_top",
    resplit: bool = False,
    seed: int = 0,
    min_genre_count: int = 5,
    split_file: dict[str, str] | None = None,
    index_file: Path | None = None,
    notes: list[str] | None = None,
) -> PreparedData:
    """Split and label a catalogue: the PreparedData every later stage reads.

    Parameters
    ----------
    catalogue : pd.DataFrame
        See the module doc.
    root : Path
        The dataset root (where a synthetic set keeps its truth and config files).
    source : str
        The format it was read from (``folders``, ``manifest``), recorded in ``subset``.
    task : str
        ``genre_top`` (single-label, the ``label`` column) or ``genres_all`` (multi-label).
    resplit : bool
        Ignore a given or built-in split; group by artist or audio instead.
    split_file : dict, optional
        key -> split name: a built-in split (keys absent from it are left out, with a note).
    index_file : Path, optional
        The manifest CSV (checksummed into the run manifest).
    notes : list of str, optional
        What loading left out, one sentence each.
    """
    if task not in TASKS:
        raise ParameterError(f"task '{task}' is not one of {', '.join(TASKS)}")
    notes = list(notes or [])
    if split_file is not None and not resplit:
        outside = catalogue.index[~catalogue.index.isin(list(split_file))]
        if len(outside):
            notes.append(
                f"{len(outside)} clips are not in the built-in split and are left out "
                f"(first: {outside[0]}); --resplit keeps them"
            )
            catalogue = catalogue.drop(index=outside)
    if catalogue.empty:
        raise DataError(f"{root}: no clips left to use; expected labelled audio files")
    tracks = tracks_table(catalogue)
    splits, groups = catalogue_splits(
        catalogue, tracks, seed=seed, resplit=resplit, split_file=split_file
    )
    tracks[("set", "split")] = splits.reindex(tracks.index).to_numpy()
    tracks[SPLIT_GROUP_COLUMN] = groups.reindex(tracks.index).to_numpy()
    labels, classes, extras = catalogue_labels(
        catalogue, splits, task=task, min_genre_count=min_genre_count
    )
    notes += extras.pop("notes", [])
    if len(classes) < 2:
        raise DataError(
            f"{index_file or root}: only one label ({classes[0]!r}) among the clips; a "
            "classifier needs at least two"
        )
    notes += list(split_gaps(splits, where=index_file or root).values())
    clips = pd.DataFrame(
        {
            "path": catalogue.loc[labels.index, "path"].astype(str).to_numpy(),
            "group": splits.reindex(labels.index).to_numpy(),
        },
        index=pd.Index(labels.index, name="key", dtype=object),
    )
    return PreparedData(
        layout=FmaLayout(Path(root)),
        subset=source,
        task=task,
        tracks=tracks,
        splits=splits,
        labels=labels,
        classes=classes,
        clips=clips,
        n_unlabelled=len(catalogue) - len(labels),
        notes=notes,
        index_file=index_file,
        **extras,
    )
