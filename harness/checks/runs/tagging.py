"""Tagging: what a multi-label (``genres_all``) run's report adds, from its run directory.

Reads what a multi-label run stores: ``models/<name>/predictions_<split>.npz`` (``y_true`` and
``proba`` of shape (n_tracks, n_genres), ``classes``, the tuned ``thresholds``), and beside
``splits.csv`` the multi-hot ``genres_all.csv`` (track_id, split, one 0/1 column per kept genre)
and ``tagging.json`` (the minimum training tracks, dropped genres, each genre's parent); both
written by :func:`harness.run.outputs.write_tagging_labels`. It produces:

- the label counts of the kept genres per split
  (:func:`harness.checks.data.labels.genres_all_checks`, in the labels family), and the
  genres dropped as too rare;
- ``per_genre_scores``: ROC-AUC and PR-AUC of every genre for every model (test split when
  stored, else validation), beside each genre's positives and prevalence (a random ranking's
  PR-AUC);
- ``thresholds_and_calibration``: per model, the spread of the thresholds tuned on validation,
  the genres given a temperature, and the leaderboard's note (calibration skipped, genres
  predicted at their training frequency);
- ``co_occurrence``: the pairs of genres most often tagged on the same track;
- ``hierarchy``: for each kept genre whose parent (genres.csv's ``parent``) is kept too, how
  many tracks carry both, and the tracks tagged with a child but not its parent.

A single-label run gets one SKIP saying so.
"""

from __future__ import annotations

import json
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, skip
from harness.checks.data.labels import genres_all_checks
from harness.checks.runs.results import load_predictions
from harness.registry import REFERENCE_MODELS
from harness.run_layout import IN_RUN, RunLayout
from harness.scoring.metrics import DegenerateInputWarning
from harness.scoring.metrics.multilabel import average_precision_per_class, roc_auc_per_class

FAMILY = "tagging"
TOP_PAIRS = 15


def from_run(run_dir: Path) -> list[CheckResult]:
    """Every tagging section of a multi-label run; one SKIP for a single-label run."""
    run_dir = Path(run_dir)
    preds, split = {}, "test"
    for split in ("test", "validation"):
        preds = load_predictions(run_dir, split=split)
        if preds:
            break
    multi = bool(preds) and next(iter(preds.values()))["y_true"].ndim == 2
    labels_path = RunLayout(run_dir).tagging_labels
    if not multi and not labels_path.exists():
        reason = "no model predictions in the run" if not preds else "single-label run"
        return [skip(FAMILY, "per_genre_scores", f"{reason}: no tagging metrics to show")]
    results: list[CheckResult] = []
    if labels_path.exists():
        table = pd.read_csv(labels_path, index_col="track_id")
        splits, labels = table.pop("split"), table
        info = _tagging_info(run_dir)
        results += genres_all_checks(labels, splits)
        results += [dropped_genres(info), co_occurrence(labels)]
        results.append(hierarchy(labels, info.get("parents", {})))
    if multi:
        results[:0] = [per_genre_scores(preds, split=split), thresholds(preds, run_dir)]
    return results


def _tagging_info(run_dir: Path) -> dict:
    path = RunLayout(run_dir).tagging_info
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def per_genre_scores(preds: dict[str, dict[str, np.ndarray]], *, split: str) -> CheckResult:
    """ROC-AUC and PR-AUC per genre (rows) and model (columns), reference rows left out.

    Parameters
    ----------
    preds : dict
        model -> arrays with ``y_true`` and ``proba`` of shape (n_tracks, n_genres) and
        ``classes``, rows in the same track order for every model.
    """
    models = [m for m in preds if m not in REFERENCE_MODELS]
    frame = per_genre_table(preds, models)
    y = next(iter(preds.values()))["y_true"]
    pr_columns = [f"{m} PR-AUC" for m in models]
    scored = frame[frame["positives"] > 0]
    if not models or scored.empty:
        return CheckResult(
            FAMILY,
            "per_genre_scores",
            "SKIP",
            f"no model, or no genre with a positive {split} track",
            evidence=frame,
        )
    mean_pr = scored[pr_columns].mean(axis=1)
    unscored = int((frame["positives"] == 0).sum())
    finding = (
        f"{split} split, {len(y)} tracks, {len(scored)} genres with a positive track"
        + (f" ({unscored} without: undefined, left out of the macro means)" if unscored else "")
        + f"; hardest genre (mean PR-AUC over models): {mean_pr.idxmin()} "
        f"({mean_pr.min():.3f}), easiest: {mean_pr.idxmax()} ({mean_pr.max():.3f})"
    )
    chance = scored[pr_columns].le(scored["prevalence"], axis=0)
    at_chance = [m for m, column in zip(models, pr_columns, strict=True) if chance[column].all()]
    return CheckResult(
        FAMILY,
        "per_genre_scores",
        "WARN" if at_chance else "PASS",
        finding
        + (f"; no better than chance on any genre: {', '.join(at_chance)}" if at_chance else ""),
        evidence=frame.sort_values("positives", ascending=False, kind="stable"),
        action="a model whose PR-AUC never beats the prevalence ranks tracks at random"
        if at_chance
        else "",
    )


def per_genre_table(preds: dict[str, dict[str, np.ndarray]], models: list[str]) -> pd.DataFrame:
    """Rows genres (index ``genre``): ``positives``, ``prevalence``, then ``<model> ROC-AUC``
    and ``<model> PR-AUC`` for each of ``models`` (NaN where undefined), rounded to 3 places."""
    first = next(iter(preds.values()))
    y, genres = first["y_true"].astype(int), [str(c) for c in first["classes"]]
    frame = pd.DataFrame(
        {"positives": y.sum(axis=0), "prevalence": y.mean(axis=0)},
        index=pd.Index(genres, name="genre"),
    )
    with warnings.catch_warnings():  # a genre without positives: NaN, said in the finding
        warnings.simplefilter("ignore", DegenerateInputWarning)
        for name in models:
            proba = preds[name]["proba"]
            frame[f"{name} ROC-AUC"] = roc_auc_per_class(y, proba, labels=genres)
            frame[f"{name} PR-AUC"] = average_precision_per_class(y, proba, labels=genres)
    return frame.round(3)


def thresholds(preds: dict[str, dict[str, np.ndarray]], run_dir: Path) -> CheckResult:
    """Per model: the genres calibrated, the spread of the thresholds tuned on validation, and
    the leaderboard's note (calibration, genres at their training frequency)."""
    notes = {}
    board = RunLayout(Path(run_dir)).leaderboard
    if board.exists():
        frame = pd.read_csv(board)
        if "notes" in frame.columns:
            notes = dict(zip(frame["model"], frame["notes"].fillna(""), strict=True))
    rows = []
    for name, arrays in preds.items():
        tuned = arrays.get("thresholds", np.array([]))
        temperatures = arrays.get("temperatures", np.ones(len(tuned)))
        rows.append(
            {
                "model": name,
                "genres with T != 1": int((temperatures != 1).sum()),
                "threshold min": tuned.min() if len(tuned) else np.nan,
                "threshold median": np.median(tuned) if len(tuned) else np.nan,
                "threshold max": tuned.max() if len(tuned) else np.nan,
                "notes": notes.get(name, ""),
            }
        )
    return CheckResult(
        FAMILY,
        "thresholds_and_calibration",
        "PASS",
        "per-genre thresholds tuned on validation (the score that maximises each genre's F1 "
        "there), applied unchanged to test; a temperature per genre where validation has enough "
        "tracks",
        evidence=pd.DataFrame(rows).round(3),
    )


def dropped_genres(info: dict) -> CheckResult:
    """The genres the run left out for having too few training tracks."""
    dropped = info.get("dropped_genres") or {}
    minimum = info.get("min_genre_count", 1)
    kept = len(info.get("genres", []))
    if not dropped:
        return CheckResult(
            FAMILY,
            "dropped_genres",
            "PASS",
            f"no genre dropped: all {kept} have >= {minimum} training tracks",
        )
    evidence = pd.DataFrame(
        {"genre": list(dropped), "training tracks": list(dropped.values())}
    ).sort_values(["training tracks", "genre"], ascending=[False, True], kind="stable")
    return CheckResult(
        FAMILY,
        "dropped_genres",
        "WARN",
        f"{len(dropped)} genres dropped (fewer than {minimum} training tracks, "
        f"--min-genre-count); {kept} kept",
        evidence=evidence.reset_index(drop=True),
        action="they are neither trained nor scored: lower --min-genre-count to keep them, at "
        "the price of genres scored on a track or two",
    )


def co_occurrence(labels: pd.DataFrame, *, top: int = TOP_PAIRS) -> CheckResult:
    """The ``top`` pairs of genres tagged together on the most tracks (every split).

    Parameters
    ----------
    labels : pd.DataFrame
        Multi-hot (n_tracks, n_genres), one column per genre.
    """
    y = labels.to_numpy(dtype=np.int64)
    together = y.T @ y  # (n_genres, n_genres): tracks tagged with both
    count = np.diag(together)
    rows = []
    for i, j in combinations(range(y.shape[1]), 2):
        if together[i, j]:
            union = count[i] + count[j] - together[i, j]
            rows.append(
                {
                    "genre a": labels.columns[i],
                    "genre b": labels.columns[j],
                    "tracks with both": int(together[i, j]),
                    "jaccard": round(float(together[i, j] / union), 3),
                }
            )
    per_track = y.sum(axis=1)
    finding = (
        f"{len(labels)} tracks carry {per_track.mean():.2f} genres on average "
        f"(max {int(per_track.max()) if len(per_track) else 0}); {len(rows)} pairs co-occur"
    )
    if not rows:
        return CheckResult(FAMILY, "co_occurrence", "PASS", finding)
    table = pd.DataFrame(rows).sort_values(
        ["tracks with both", "jaccard"], ascending=False, kind="stable"
    )
    return CheckResult(
        FAMILY,
        "co_occurrence",
        "PASS",
        finding + "; the most frequent below",
        evidence=table.head(top).reset_index(drop=True),
    )


def hierarchy(labels: pd.DataFrame, parents: dict[str, str | None]) -> CheckResult:
    """Tracks carrying a genre together with its parent, for each kept (child, parent) pair.

    Parameters
    ----------
    labels : pd.DataFrame
        Multi-hot (n_tracks, n_genres), one column per kept genre.
    parents : dict
        Genre title -> its parent's title (None for a root genre), from genres.csv.
    """
    rows = []
    for child in labels.columns:
        parent = parents.get(child)
        if parent is None or parent not in labels.columns:
            continue
        has_child = labels[child].to_numpy() == 1
        has_parent = labels[parent].to_numpy() == 1
        rows.append(
            {
                "child": child,
                "parent": parent,
                "child tracks": int(has_child.sum()),
                "with parent": int((has_child & has_parent).sum()),
                "without parent": int((has_child & ~has_parent).sum()),
                "parent tracks": int(has_parent.sum()),
            }
        )
    if not rows:
        return CheckResult(
            FAMILY,
            "hierarchy",
            "SKIP",
            f"no kept genre has its parent kept too (or {IN_RUN.tagging_info} has no genre tree)",
        )
    table = pd.DataFrame(rows)
    with_parent, child_tracks = int(table["with parent"].sum()), int(table["child tracks"].sum())
    orphans = table[table["without parent"] > 0]
    finding = (
        f"{len(table)} (child, parent) pairs among the kept genres: {with_parent} of "
        f"{child_tracks} child tags come with the parent's tag"
    )
    return CheckResult(
        FAMILY,
        "hierarchy",
        "WARN" if len(orphans) else "PASS",
        finding
        + (f"; tagged without their parent: {', '.join(orphans['child'])}" if len(orphans) else ""),
        evidence=table.sort_values("child tracks", ascending=False, kind="stable"),
        action="genres_all should hold every ancestor of a track's genres: rebuild it from "
        "genres and the genre tree"
        if len(orphans)
        else "",
    )
