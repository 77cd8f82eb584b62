"""A user's label decisions (``label_fixes.csv``), checked and applied when the data is prepared.

The file is what a person reviewing the suspects decides, one row per track::

    track_id,action,new_label,duplicate_of,check,note,time
    1234,relabel,Rock,,mislabels,sounds like rock,2026-12-07T20:00:00Z
    1240,drop,,,audio,silent clip,2026-12-07T20:01:00Z
    1301,duplicate-of,,1300,duplicates,same excerpt,2026-12-07T20:02:00Z
    1302,keep,,,mislabels,label is right,2026-12-07T20:03:00Z

``action`` is ``keep`` (no change), ``relabel`` (the track's label becomes ``new_label``, a
genre of the task: for the multi-label task, its only genre), ``drop`` (the track leaves the
data) or ``duplicate-of`` (the track duplicates ``duplicate_of``, which stays; the track is
dropped). ``check``, ``note`` and ``time`` are the reviewer's record and are not read. Only
``track_id`` and ``action`` are required columns.

Everything is checked before any work, each problem one line naming the row: an unknown track,
an unknown genre, an unknown action, two rows deciding differently for one track, a duplicate
pair whose kept track is itself dropped. The dataset's own files are never changed: the fixes
apply to the prepared tables only, and the run records the file's sha256 and what it changed
(:attr:`PreparedData.label_fixes`, the manifest, the report's preparation notes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.prepared import CHALLENGE_GROUP, PreparedData
from harness.errors import DataError
from harness.storage import file_digest

ACTIONS = ("keep", "relabel", "drop", "duplicate-of")
REMOVING = ("drop", "duplicate-of")  # the actions that take the track out of the data
COLUMNS = ("track_id", "action", "new_label", "duplicate_of", "check", "note", "time")
REQUIRED = ("track_id", "action")
HEADER_LINE = 1  # a row's line in the file is its position + 2


def read_label_fixes(path: Path) -> pd.DataFrame:
    """The decisions of ``path``: one row per line, columns :data:`COLUMNS` (strings), plus
    ``line`` (the file's line number, for messages). Identical repeated rows count once."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--label-fixes {path}: no such file; pass the label_fixes.csv to apply")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: not a CSV file ({type(exc).__name__}); expected {','.join(COLUMNS)}"
        ) from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: no {', '.join(missing)} column; expected a header with "
            f"{','.join(COLUMNS)} (only track_id and action are required)"
        )
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table[list(COLUMNS)].apply(lambda c: c.str.strip())
    table["line"] = np.arange(len(table)) + HEADER_LINE + 1
    bad = table[~table["action"].isin(ACTIONS)]
    if len(bad):
        row = bad.iloc[0]
        raise DataError(
            f"{path}, line {row['line']}: action {row['action']!r}; expected one of "
            f"{', '.join(ACTIONS)}"
        )
    return table.drop_duplicates(subset=list(COLUMNS[:4]))


def check_label_fixes(table: pd.DataFrame, data: PreparedData, *, path: Path) -> pd.DataFrame:
    """Check every decision against ``data`` (one line naming the row on the first problem).

    Returns
    -------
    pd.DataFrame
        The decisions with a ``key`` column: the track's key in ``data.labels``.
    """
    keys = {str(k): k for k in data.labels.index}
    table = table.copy()
    table["key"] = [keys.get(t) for t in table["track_id"]]
    for _, row in table.iterrows():
        where = f"{path}, line {row['line']}"
        if row["key"] is None:
            raise DataError(
                f"{where}: track {row['track_id']!r} is not a labelled track of this dataset "
                f"({len(keys)} tracks); check the file was made for this --root and --subset"
            )
        if row["action"] == "relabel" and row["new_label"] not in data.classes:
            raise DataError(
                f"{where}: new_label {row['new_label']!r} is not a genre of the task; expected "
                f"one of {', '.join(map(str, data.classes))}"
            )
        if row["action"] == "duplicate-of":
            other = keys.get(row["duplicate_of"])
            if other is None or other == row["key"]:
                raise DataError(
                    f"{where}: duplicate_of {row['duplicate_of']!r} is not another labelled "
                    "track; name the track this one duplicates (it is kept)"
                )
    repeated = table[table.duplicated("key", keep=False)].sort_values("line")
    if len(repeated):
        first, second = (
            repeated.iloc[0],
            repeated[repeated["key"] == repeated.iloc[0]["key"]].iloc[1],
        )
        raise DataError(
            f"{path}, lines {first['line']} and {second['line']}: two different decisions for "
            f"track {first['track_id']} ({first['action']} and {second['action']}); keep one"
        )
    removed = set(table.loc[table["action"].isin(REMOVING), "track_id"])
    for _, row in table[table["action"] == "duplicate-of"].iterrows():
        if row["duplicate_of"] in removed:
            raise DataError(
                f"{path}, line {row['line']}: track {row['track_id']} duplicates "
                f"{row['duplicate_of']}, which is itself dropped; keep one track of the pair"
            )
    return table


def apply_label_fixes(data: PreparedData, path: Path) -> PreparedData:
    """``data`` with the decisions of ``path`` applied (checked first, see the module
    docstring); its ``label_fixes`` records the file, its sha256 and the counts per action,
    and a sentence in ``notes`` says the same for the report."""
    path = Path(path)
    table = check_label_fixes(read_label_fixes(path), data, path=path)
    labels = data.labels.copy()
    relabel = table[table["action"] == "relabel"]
    changed = 0
    for key, genre in zip(relabel["key"], relabel["new_label"], strict=True):
        if isinstance(labels, pd.DataFrame):  # multi-hot: the genre becomes the track's only one
            new = (labels.columns == genre).astype(labels.dtypes.iloc[0])
            changed += int(not np.array_equal(labels.loc[key].to_numpy(), new))
            labels.loc[key] = new
        else:
            changed += int(labels.loc[key] != genre)
            labels.loc[key] = genre
    tracks = data.tracks.copy()
    column = ("track", "genre_top")  # what the data checks read as the label
    if column in tracks.columns and data.task == "genre_top":
        known = relabel[relabel["key"].isin(tracks.index)]
        if isinstance(tracks[column].dtype, pd.CategoricalDtype):
            tracks[column] = tracks[column].astype(object)
        tracks.loc[known["key"].tolist(), column] = known["new_label"].to_numpy()
    gone = list(set(table.loc[table["action"].isin(REMOVING), "key"]))
    keep = ~labels.index.isin(gone)
    counts = {action: int((table["action"] == action).sum()) for action in ACTIONS}
    digest = file_digest(path)
    record = {"file": str(path), "sha256": digest, "counts": counts, "labels_changed": changed}
    note = (
        f"Label fixes from {path.name} (sha256 {digest[:12]}) applied: {counts['relabel']} "
        f"relabelled ({changed} to another genre), {counts['drop']} dropped, "
        f"{counts['duplicate-of']} dropped as duplicates, {counts['keep']} kept as they were; "
        "the dataset's own files are unchanged."
    )
    clips = data.clips[~data.clips.index.isin(gone) | (data.clips["group"] == CHALLENGE_GROUP)]
    return dataclasses.replace(
        data,
        labels=labels[keep],
        splits=data.splits[~data.splits.index.isin(gone)],
        tracks=tracks[~tracks.index.isin(gone)],
        clips=clips,
        notes=[*data.notes, note],
        label_fixes=record,
    )
