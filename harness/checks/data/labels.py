"""Label checks: class balance per split, tiny classes, missing labels, the genre hierarchy.

``genres`` holds the genre ids an artist chose; ``genres_all`` must be exactly those ids plus all
their ancestors, and ``genre_top`` the single root they map to (empty when they map to several
roots). The suspected-mislabel detector is in :mod:`harness.checks.data.mislabels`.

The data stage counts ``genre_top``. A multi-label run counts the tracks of each genre of
``genres_all`` too (:func:`genres_all_checks`, called by the run stage's tagging checks, which
know the run's task and its kept genres).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.figures import distribution_figure
from harness.checks.registry import DataInputs
from harness.data.fma import genre_top_labels

FAMILY = "labels"
# A split whose class distribution differs from training's by more than this total variation
# distance (half the L1 distance of the two distributions) gets a WARN.
MAX_DRIFT_TVD = 0.10
# Classes with fewer training tracks than this are too small to learn or to score reliably.
MIN_TRAIN_TRACKS = 20


def count_table(labels: pd.Series | pd.DataFrame, splits: pd.Series) -> pd.DataFrame:
    """Tracks per class (rows, index ``genre``) and split (columns).

    Parameters
    ----------
    labels : pd.Series or pd.DataFrame
        track_id -> genre name; or a multi-hot table (n_tracks, n_genres) of ``genres_all``,
        where a track counts once for each of its genres.
    splits : pd.Series
        track_id -> training / validation / test.
    """
    if isinstance(labels, pd.DataFrame):
        table = labels.groupby(splits.reindex(labels.index).to_numpy()).sum().T
        table = table[_split_order(table.columns)]
        return table.rename_axis(index="genre", columns="split").astype(int)
    return pd.crosstab(labels, splits.reindex(labels.index)).rename_axis(index="genre")


def class_distribution(
    *, labels: pd.Series | pd.DataFrame, splits: pd.Series, name: str = "class_distribution"
) -> CheckResult:
    """Tracks per class and split, and the drift of each split's distribution from training's.

    Parameters
    ----------
    labels : pd.Series or pd.DataFrame
        track_id -> genre name (tracks without a label left out), or a multi-hot table of
        ``genres_all`` (:func:`count_table`; a split's distribution is then over its tags).
    splits : pd.Series
        track_id -> training / validation / test.
    name : str
        The check's name.
    """
    table = count_table(labels, splits)
    table = table.reindex(columns=[s for s in _split_order(table.columns)], fill_value=0)
    if "training" not in table.columns:
        return CheckResult(FAMILY, name, "SKIP", "no training split present")
    frac = table / table.sum(axis=0)
    drift = {s: 0.5 * float(np.abs(frac[s] - frac["training"]).sum()) for s in table.columns}
    worst = max((s for s in drift if s != "training"), key=drift.get, default=None)
    evidence = table.copy()
    for split in table.columns:
        evidence[f"{split} %"] = (100 * frac[split]).round(1)
    figure = distribution_figure(frac)
    if worst is not None and drift[worst] > MAX_DRIFT_TVD:
        return CheckResult(
            FAMILY,
            name,
            "WARN",
            f"class distribution drifts between splits: {worst} differs from training by "
            f"TVD {drift[worst]:.2f} (> {MAX_DRIFT_TVD})",
            evidence=evidence,
            action="re-split stratified by genre, or report per-class metrics alongside macro F1",
            figures=[figure],
        )
    summary = ", ".join(f"{s} {drift[s]:.3f}" for s in drift if s != "training")
    return CheckResult(
        FAMILY,
        name,
        "PASS",
        f"{len(table)} classes; distribution drift from training (TVD): {summary or 'n/a'}",
        evidence=evidence,
        figures=[figure],
    )


def _split_order(columns: pd.Index) -> list[str]:
    order = ["training", "validation", "test"]
    return [c for c in order if c in columns] + [c for c in columns if c not in order]


def small_classes(
    *,
    labels: pd.Series | pd.DataFrame,
    splits: pd.Series,
    min_train_tracks: int = MIN_TRAIN_TRACKS,
    name: str = "classes_too_small",
) -> CheckResult:
    """Classes with too few training tracks, or absent from an evaluation split.

    ``labels``: genre names, or the multi-hot ``genres_all`` table (see :func:`count_table`).
    """
    table = count_table(labels, splits)
    train = table["training"] if "training" in table.columns else pd.Series(0, index=table.index)
    small = table[train < min_train_tracks]
    absent = [
        f"{g} ({s})"
        for s in ("validation", "test")
        if s in table.columns
        for g in table.index[table[s] == 0]
    ]
    if small.empty and not absent:
        return CheckResult(
            FAMILY,
            name,
            "PASS",
            f"every class has >= {min_train_tracks} training tracks (smallest: "
            f"{train.idxmin()} with {int(train.min())})",
            evidence={"smallest class": str(train.idxmin()), "training tracks": int(train.min())},
        )
    parts = []
    if not small.empty:
        parts.append(
            f"{len(small)} classes under {min_train_tracks} training tracks: "
            f"{', '.join(map(str, small.index))}"
        )
    if absent:
        parts.append(f"absent from an evaluation split: {', '.join(absent)}")
    return CheckResult(
        FAMILY,
        name,
        "WARN",
        "; ".join(parts),
        evidence=table.loc[sorted(set(small.index) | {a.split(" (")[0] for a in absent})],
        action="merge or drop these classes, or collect more tracks; their per-class scores "
        "have very wide intervals",
    )


def unlabelled_tracks(*, tracks: pd.DataFrame) -> CheckResult:
    """Tracks of the subset without a ``genre_top`` label (they cannot be used for training)."""
    genre_top = tracks[("track", "genre_top")]
    missing = genre_top.index[genre_top.isna().to_numpy()]
    if len(missing) == 0:
        return CheckResult(
            FAMILY, "tracks_without_label", "PASS", f"all {len(tracks)} tracks have a genre_top"
        )
    return CheckResult(
        FAMILY,
        "tracks_without_label",
        "WARN",
        f"{len(missing)} of {len(tracks)} tracks have no genre_top: {id_list(missing)}",
        evidence=pd.DataFrame({"track_id": missing}),
        action="they are left out of single-label training; use the genres_all task to keep them",
    )


def hierarchy_consistency(*, tracks: pd.DataFrame, genres: pd.DataFrame) -> CheckResult:
    """``genres``, ``genres_all`` and ``genre_top`` agree with the genre tree.

    Parameters
    ----------
    genres : pd.DataFrame
        genres.csv indexed by genre_id with ``parent`` and ``title`` (e.g.
        :func:`harness.data.fma.load_genres` of the dataset's genres.csv).
    """
    parent = genres["parent"].astype(int).to_dict()
    title = genres["title"].astype(str).to_dict()
    rows = []
    for track_id, chosen, all_ids, top in zip(
        tracks.index,
        tracks[("track", "genres")],
        tracks[("track", "genres_all")],
        tracks[("track", "genre_top")],
        strict=True,
    ):
        problem = _hierarchy_problem(_ids(chosen), _ids(all_ids), top, parent, title)
        if problem:
            rows.append(
                {
                    "track_id": track_id,
                    "problem": problem,
                    "genres": _ids(chosen),
                    "genres_all": _ids(all_ids),
                    "genre_top": top,
                }
            )
    if not rows:
        return CheckResult(
            FAMILY,
            "genre_hierarchy",
            "PASS",
            f"genres, genres_all and genre_top agree with the genre tree for all "
            f"{len(tracks)} tracks",
        )
    table = pd.DataFrame(rows)
    return CheckResult(
        FAMILY,
        "genre_hierarchy",
        "WARN",
        f"{len(table)} tracks disagree with the genre tree: {id_list(table['track_id'])}",
        evidence=table,
        action="rebuild genres_all from genres and the tree, and genre_top from its root; "
        "a genre_top that contradicts genres is a label error",
    )


def _ids(value: object) -> list[int]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [int(v) for v in value]
    return []


def _hierarchy_problem(
    chosen: list[int], all_ids: list[int], top: object, parent: dict, title: dict
) -> str:
    unknown = sorted({g for g in chosen + all_ids if g not in parent})
    if unknown:
        return f"unknown genre ids {unknown}"
    closure = set()
    for g in chosen:
        while g and g not in closure:
            closure.add(g)
            g = parent.get(g, 0)
    if closure != set(all_ids):
        return f"genres_all {sorted(all_ids)} != genres + ancestors {sorted(closure)}"
    roots = sorted({title[g] for g in closure if parent[g] == 0})
    has_top = isinstance(top, str) and top != ""
    if has_top and roots != [top]:
        return f"genre_top '{top}' but genres map to roots {roots}"
    if not has_top and len(roots) == 1:
        return f"genre_top empty but genres map to the single root '{roots[0]}'"
    return ""


def genres_all_checks(labels: pd.DataFrame, splits: pd.Series) -> list[CheckResult]:
    """The class checks of a multi-label run, on the tracks of each kept genre of ``genres_all``.

    Parameters
    ----------
    labels : pd.DataFrame
        Multi-hot (n_tracks, n_genres), index track_id, one column per genre.
    splits : pd.Series
        track_id -> training / validation / test.
    """
    return [
        class_distribution(labels=labels, splits=splits, name="genres_all_distribution"),
        small_classes(labels=labels, splits=splits, name="genres_all_too_small"),
    ]


def given_labels(inputs: DataInputs) -> pd.Series:
    """track_id -> genre_top of the inputs' tracks in a split (computed once per inputs)."""

    def compute() -> pd.Series:
        given = genre_top_labels(inputs.tracks)
        return given[given.index.isin(inputs.splits.index)]

    return inputs.shared("given_labels", compute)


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The labels family as a registered ``"data"`` check (the mislabel detector apart)."""
    given, splits, tracks = given_labels(inputs), inputs.splits, inputs.tracks
    if inputs.genres is None:  # the dataset's own tree, never one it does not ship
        hierarchy = skip(FAMILY, "genre_hierarchy", "the dataset has no genres.csv")
    else:
        hierarchy = hierarchy_consistency(tracks=tracks, genres=inputs.genres)
    return [
        class_distribution(labels=given, splits=splits),
        small_classes(labels=given, splits=splits),
        unlabelled_tracks(tracks=tracks),
        hierarchy,
    ]
