"""Prepare a dataset for training: metadata, subset, splits, labels and the clips to featurise.

This is the one place that turns an FMA root (real or synthetic) into plain tables that the
feature extractor, the models and the checks consume. Nothing here decodes audio.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data import fma
from harness.data.audio import DecodeConfig
from harness.data.challenge import challenge_mp3s
from harness.data.clip_lengths import short_threshold
from harness.data.layout import SUBSETS, FmaLayout
from harness.data.splits import SPLITS, get_splits
from harness.errors import DataError, ParameterError

TASKS = ("genre_top", "genres_all")
CHALLENGE_GROUP = "challenge"
OWN_FORMATS = ("folders", "manifest")  # PreparedData.subset of a dataset not in FMA's layout
# genres_all: a genre with fewer training tracks than this is dropped. Below five positives a
# per-genre classifier has next to nothing to learn from, the SVM's 5-fold Platt scaling cannot
# run (it needs five tracks of each class), and validation and test hold about one positive
# each at FMA's 80/10/10 split, so the genre's scores would be noise.
DEFAULT_MIN_GENRE_COUNT = 5


@dataclass
class PreparedData:
    """Everything a run needs before features exist.

    Attributes
    ----------
    layout : FmaLayout
        Where the dataset lives.
    subset : str
        FMA subset used (small, medium, large, full); for another format, its name
        (``folders``, ``manifest``).
    task : str
        ``genre_top`` (single-label) or ``genres_all`` (multi-label).
    tracks : pd.DataFrame
        tracks.csv rows of the subset, index track_id, 2-level columns.
    splits : pd.Series
        track_id -> training / validation / test.
    labels : pd.Series or pd.DataFrame
        ``genre_top``: genre name per track_id. ``genres_all``: multi-hot (n_tracks, n_genres).
    classes : list of str
        Label set, sorted.
    clips : pd.DataFrame
        key -> ``path``, ``group``: labelled tracks (group = split) and, when a challenge test
        folder is used, its clips keyed by file_id with group ``challenge``.
    n_unlabelled : int
        Subset tracks excluded because they have no label for the task.
    notes : list of str
        What preparing left out, one sentence each (e.g. the genres dropped as too rare).
    dropped_genres : dict
        ``genres_all``: genre title -> its training tracks, for the genres dropped because they
        have fewer than ``min_genre_count`` (empty for ``genre_top``).
    genre_parents : dict
        ``genres_all``: genre title -> title of its parent in genres.csv (None for a root), for
        every genre of the subset, kept or dropped.
    min_genre_count : int
        The minimum training tracks a kept genre has (``genres_all``).
    index_file : Path or None
        The file that listed the clips when it is not tracks.csv (a CSV manifest), for the
        run's data checksums.
    label_fixes : dict or None
        The label fixes applied (:func:`harness.data.label_fixes.apply_label_fixes`): file,
        sha256, counts per action; None when none were.
    """

    layout: FmaLayout
    subset: str
    task: str
    tracks: pd.DataFrame
    splits: pd.Series
    labels: pd.Series | pd.DataFrame
    classes: list[str]
    clips: pd.DataFrame
    n_unlabelled: int = 0
    notes: list[str] = field(default_factory=list)
    dropped_genres: dict[str, int] = field(default_factory=dict)
    genre_parents: dict[str, str | None] = field(default_factory=dict)
    min_genre_count: int = 1
    index_file: Path | None = None
    label_fixes: dict | None = None

    def keys(self, group: str) -> pd.Index:
        """Keys of the clips in one group (a split name or ``challenge``)."""
        return self.clips.index[self.clips["group"] == group]


def targets(data: PreparedData, keys: pd.Index) -> np.ndarray:
    """Labels for ``keys``: genre names (single-label) or a multi-hot matrix (multi-label).

    Returns
    -------
    np.ndarray
        shape (len(keys),) of str for ``genre_top``; (len(keys), len(data.classes)) int8 for
        ``genres_all``.
    """
    if data.task == "genre_top":
        return data.labels.reindex(keys).to_numpy(dtype=object).astype(str)
    return data.labels.reindex(keys).to_numpy(dtype=np.int8)


def training_prior(data: PreparedData) -> np.ndarray:
    """The best prediction without audio: label frequencies of the training split.

    Returns
    -------
    np.ndarray, shape (len(data.classes),)
        Class frequencies summing to 1 (single-label), or the fraction of training tracks
        tagged with each genre (multi-label).
    """
    labels = data.labels.reindex(data.keys("training")).dropna()
    if data.task == "genre_top":
        counts = labels.value_counts(normalize=True)
        return counts.reindex(data.classes, fill_value=0.0).to_numpy(dtype=np.float64)
    return labels[list(data.classes)].mean(axis=0).to_numpy(dtype=np.float64)


def holds_clips(folder: Path) -> bool:
    """True when ``folder`` exists and holds at least one ``.mp3`` file (any case)."""
    return folder.is_dir() and any(p.suffix.lower() == ".mp3" for p in folder.iterdir())


def default_test_dir(root: Path) -> Path | None:
    """The root's challenge folder (``crowdai_fma_test/``) when it holds clips, else None."""
    test_dir = FmaLayout(Path(root)).test_dir
    return test_dir if holds_clips(test_dir) else None


def challenge_clips(test_dir: Path) -> pd.DataFrame:
    """The clips of a challenge test folder: ``<file_id>.mp3`` -> path, group ``challenge``."""
    paths = challenge_mp3s(test_dir)
    return pd.DataFrame(
        {"path": [str(p) for p in paths], "group": CHALLENGE_GROUP},
        index=pd.Index([p.stem for p in paths], name="key", dtype=object),
    )


def load_subset_tracks(root: Path, *, subset: str) -> tuple[FmaLayout, pd.DataFrame]:
    """The layout of ``root`` and the tracks.csv rows of ``subset`` (and smaller subsets)."""
    layout = FmaLayout(Path(root))
    if not layout.tracks_csv.exists():
        raise DataError(
            f"{layout.tracks_csv}: not found; download fma_metadata.zip and unzip it into "
            f"{layout.root}, or run `fma-harness data synth --root {layout.root}`"
        )
    return layout, fma.select_subset(fma.load_tracks(layout.tracks_csv), subset)


def track_clips(track_ids: pd.Index, *, splits: pd.Series, audio_dir: Path) -> pd.DataFrame:
    """Clip table of FMA tracks: track_id -> ``path`` (where the mp3 is) and ``group`` (split)."""
    keys = [int(k) for k in track_ids]
    return pd.DataFrame(
        {
            "path": [str(fma.audio_path(audio_dir, k)) for k in keys],
            "group": splits.reindex(keys).to_numpy(),
        },
        index=pd.Index(keys, name="key", dtype=object),
    )


def prepare(
    *,
    root: Path,
    subset: str = "small",
    task: str = "genre_top",
    resplit: bool = False,
    seed: int = 0,
    test_dir: Path | None = None,
    min_genre_count: int = DEFAULT_MIN_GENRE_COUNT,
    require_audio: bool = True,
) -> PreparedData:
    """Load metadata, select the subset, split, label and list the audio clips.

    Parameters
    ----------
    root : Path
        FMA root holding ``fma_metadata/`` and ``fma_<subset>/``.
    subset : str
        One of small, medium, large, full.
    task : str
        ``genre_top`` or ``genres_all``.
    resplit : bool
        Ignore the official ``set.split`` and build an artist-grouped split with ``seed``.
    test_dir : Path, optional
        A challenge test folder; its clips are added with group ``challenge``.
    min_genre_count : int
        ``genres_all`` only: drop genres with fewer training tracks than this (1 keeps every
        genre a training track carries; one no training track carries cannot be learned); a
        track left without a genre is left out. The dropped genres are in ``dropped_genres``
        and ``notes``.
    require_audio : bool
        False when features come from the official features.csv: the audio directory may then
        be absent (clip paths are still listed where the audio would be).
    """
    if subset not in SUBSETS:
        raise ParameterError(f"subset '{subset}' is not one of {', '.join(SUBSETS)}")
    if task not in TASKS:
        raise ParameterError(f"task '{task}' is not one of {', '.join(TASKS)}")
    layout, tracks = load_subset_tracks(root, subset=subset)
    audio_dir = (
        fma.require_audio_dir(layout.root, subset) if require_audio else layout.audio_dir(subset)
    )
    splits = get_splits(tracks, resplit=resplit, seed=seed)
    extras: dict[str, Any] = {}  # genres_all: what was dropped, the genre tree
    if task == "genre_top":
        labels = fma.genre_top_labels(tracks)
        classes = sorted(labels.unique().tolist())
    else:
        labels, extras = _genres_all(layout, tracks, splits, min_genre_count=min_genre_count)
        classes = list(labels.columns)
    n_unlabelled = len(tracks) - len(labels)
    clips = track_clips(labels.index, splits=splits, audio_dir=audio_dir)
    unknown = ~clips["group"].isin(SPLITS)
    if unknown.any():
        raise DataError(
            f"{layout.tracks_csv}: {int(unknown.sum())} tracks have no split "
            f"(first: {clips.index[unknown][0]}); rerun with --resplit"
        )
    if test_dir is not None:
        clips = pd.concat([clips, challenge_clips(Path(test_dir))])
    return PreparedData(
        layout=layout,
        subset=subset,
        task=task,
        tracks=tracks,
        splits=splits,
        labels=labels,
        classes=classes,
        clips=clips,
        n_unlabelled=n_unlabelled,
        **extras,
    )


def _genres_all(
    layout: FmaLayout, tracks: pd.DataFrame, splits: pd.Series, *, min_genre_count: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The multi-hot ``genres_all`` table (n_tracks, n_kept_genres) without the genres that have
    fewer than ``min_genre_count`` training tracks and without the tracks left unlabelled, and
    the PreparedData fields saying so (``dropped_genres``, ``genre_parents``, ``notes``...)."""
    if min_genre_count < 1:
        raise ParameterError(f"min_genre_count must be >= 1, got {min_genre_count}")
    genres = fma.load_genres(layout.genres_csv)
    labels, counts, dropped, notes = drop_rare_labels(
        fma.genres_all_labels(tracks, genres), splits, min_count=min_genre_count
    )
    title = genres["title"].astype(str)
    parents = {
        title[g]: (title.get(int(p)) if int(p) != 0 else None)
        for g, p in genres["parent"].items()
        if title[g] in counts.index
    }
    extras = {
        "dropped_genres": dropped,
        "genre_parents": parents,
        "notes": notes,
        "min_genre_count": min_genre_count,
    }
    return labels, extras


def drop_rare_labels(
    labels: pd.DataFrame,
    splits: pd.Series,
    *,
    min_count: int,
    label: str = "genre",
    item: str = "track",
) -> tuple[pd.DataFrame, pd.Series, dict[str, int], list[str]]:
    """Drop the columns of a multi-hot ``labels`` table (n, C) that fewer than ``min_count``
    training rows carry (``splits``: key -> split name), then the rows left with no label.

    Returns the kept table, every label's training count, the dropped labels with their counts,
    and a note naming them (none when nothing was dropped). ``label`` and ``item`` name what the
    columns and rows are in the messages ("genre"/"track" for FMA, "label"/"clip" otherwise).

    Raises
    ------
    DataError
        No label keeps ``min_count`` training rows.
    """
    training = splits.index[splits.to_numpy() == "training"]
    counts = labels.reindex(labels.index.intersection(training)).sum(axis=0)
    rare = counts.index[counts < min_count]
    dropped = {str(g): int(counts[g]) for g in rare}
    labels = labels.drop(columns=rare)
    labels = labels[labels.sum(axis=1) > 0]
    if labels.shape[1] == 0:
        commas = [str(c) for c in counts.index if "," in str(c)]
        hint = (
            f"; a label such as {commas[0]!r} holds a comma: separate several labels with "
            "';' in a manifest's labels column"
            if commas
            else ""
        )
        raise DataError(
            f"genres_all: no {label} has {min_count} or more training {item}s "
            f"(most: {int(counts.max()) if len(counts) else 0}); lower --min-genre-count{hint}"
        )
    notes = []
    if dropped:
        listed = ", ".join(f"{g} ({n})" for g, n in sorted(dropped.items()))
        notes.append(
            f"genres_all: {len(dropped)} of {len(counts)} {label}s dropped, fewer than "
            f"{min_count} training {item}s (--min-genre-count): {listed}"
        )
    return labels, counts, dropped, notes


def decode_config_for(
    root: Path, *, min_duration: float | None = None, data: PreparedData | None = None
) -> DecodeConfig:
    """How to judge the clips of ``root``: which decoded length counts as ``short``.

    ``min_duration`` when given; else a synthetic set's own minimum (``synthetic_config.json``
    records it, so that a set of 10 s clips is not all short); else, for a folder per label or
    a manifest (``data``), 90% of the collection's typical clip length, at most 29 s
    (:mod:`harness.data.clip_lengths`); else FMA's 29 s.
    """
    if min_duration is not None:
        return DecodeConfig(min_duration=float(min_duration))
    path = FmaLayout(Path(root)).root / "synthetic_config.json"
    if path.exists():
        return DecodeConfig(min_duration=float(json.loads(path.read_text("utf-8"))["min_duration"]))
    if data is not None and data.subset in OWN_FORMATS:
        stated = None
        if ("track", "duration") in data.tracks.columns:
            stated = data.tracks[("track", "duration")].to_numpy(dtype=np.float64)
        labelled = data.clips[data.clips["group"] != CHALLENGE_GROUP]
        return DecodeConfig(min_duration=short_threshold(stated, list(labelled["path"])))
    return DecodeConfig()
