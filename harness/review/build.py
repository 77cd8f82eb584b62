"""Assemble a review page: the cards of a run (or of a data checklist), each track's facts,
its excerpt, and the page itself.

:func:`review_run` reads a run folder: ``checks.json``, the manifest's dataset (root,
format, subset, split settings, label fixes) reloaded to find the audio files, the tracks'
artist / album / title and the genres of the task, ``splits.csv``, and one model's stored
predictions (the leaderboard's lowest validation log loss) for the top-3 and its most
confident errors. :func:`build_review` is the part shared with ``review --root``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, load_checks
from harness.data.formats import load_dataset
from harness.data.label_fixes import apply_label_fixes
from harness.data.prepared import PreparedData
from harness.errors import DataError
from harness.review.cards import (
    DEFAULT_MODEL_ERRORS,
    Card,
    cards_from_checks,
    model_error_cards,
    sort_cards,
)
from harness.review.excerpts import write_excerpt
from harness.review.page import render_page
from harness.run_layout import RunLayout, run_config
from harness.storage import write_text_atomic

DEFAULT_MAX_CARDS = 200
REVIEW_DIR = "review"
PAGE = "index.html"
SPLIT_ORDER = ("validation", "test")  # the groups whose predictions give a top-3


@dataclass(frozen=True)
class ReviewPage:
    """What :func:`build_review` wrote: the page, how many suspects it holds and how many the
    cap left out."""

    path: Path
    shown: int
    left_out: int


def _column(tracks: pd.DataFrame, column: tuple[str, str], key) -> str:
    if column not in tracks.columns or key not in tracks.index:
        return ""
    value = tracks.at[key, column]
    return "" if pd.isna(value) else str(value)


def _label(labels: pd.Series | pd.DataFrame, key) -> str:
    if key not in labels.index:
        return ""
    if isinstance(labels, pd.DataFrame):  # multi-hot
        row = labels.loc[key]
        return ", ".join(str(c) for c in labels.columns[row.to_numpy() > 0])
    return str(labels.loc[key])


def top3_table(predictions: Sequence[dict[str, np.ndarray]]) -> dict[str, list]:
    """track id (text) -> [[genre, probability], ...] of the three most probable genres, from
    stored prediction arrays (``keys``, ``classes``, ``proba`` or ``proba_calibrated``)."""
    out: dict[str, list] = {}
    for arrays in predictions:
        proba = arrays.get("proba_calibrated", arrays["proba"])
        classes = arrays["classes"].astype(str)
        order = np.argsort(-proba, axis=1)[:, :3]
        for key, row, best in zip(arrays["keys"], proba, order, strict=True):
            out[str(key)] = [[classes[j], round(float(row[j]), 3)] for j in best]
    return out


def track_facts(data: PreparedData, key, *, top3: dict[str, list]) -> dict:
    """What a card shows about one track: label, split, artist, album, title, top-3."""
    split = data.splits.get(key, data.clips["group"].get(key, "")) if len(data.clips) else ""
    return {
        "label": _label(data.labels, key),
        "split": "" if pd.isna(split) else str(split),
        "artist": _column(data.tracks, ("artist", "name"), key),
        "album": _column(data.tracks, ("album", "title"), key),
        "title": _column(data.tracks, ("track", "title"), key),
        "top3": top3.get(str(key), []),
    }


def build_review(
    *,
    results: Sequence[CheckResult],
    data: PreparedData,
    out: Path,
    title: str,
    predictions: Sequence[dict[str, np.ndarray]] = (),
    model: str = "",
    max_cards: int = DEFAULT_MAX_CARDS,
    n_model_errors: int = DEFAULT_MODEL_ERRORS,
) -> ReviewPage:
    """Write ``out/index.html`` and the excerpts of its cards.

    Parameters
    ----------
    results : sequence of CheckResult
        The data checks (a run's ``checks.json``).
    data : PreparedData
        The dataset the checks ran on (clip paths, labels, tracks, splits, genres).
    out : Path
        The page's folder.
    title : str
        The page's heading.
    predictions : sequence of dict
        One model's stored prediction arrays (one dict per split) for the top-3 and the
        model-error cards.
    model : str
        That model's name.
    max_cards : int
        At most this many cards (the most certain); the page says how many were left out.
    n_model_errors : int
        At most this many model-error cards.
    """
    out = Path(out)
    labelled = {str(k): k for k in data.labels.index}
    cards: list[Card] = cards_from_checks(results, labelled)
    for arrays in predictions:
        cards += model_error_cards(
            arrays, model=model, labelled=set(labelled), limit=n_model_errors
        )
    cards = sort_cards(cards)
    shown, left_out = cards[:max_cards], max(0, len(cards) - max_cards)
    top3 = top3_table(predictions)
    keys = {str(k): k for k in data.clips.index} | labelled
    tracks = {}
    for card in shown:
        for name in filter(None, (card.track, card.other)):
            if name in tracks or name not in keys:
                continue
            key = keys[name]
            facts = track_facts(data, key, top3=top3)
            path = data.clips["path"].get(key) if key in data.clips.index else None
            excerpt = write_excerpt(Path(path), key=name, out=out) if path else None
            facts |= {
                "audio": excerpt.audio if excerpt else "",
                "picture": excerpt.picture if excerpt else "",
                "seconds": excerpt.seconds if excerpt else 0.0,
            }
            tracks[name] = facts
    payload = {
        "title": title,
        "model": model,
        "genres": [str(c) for c in data.classes],
        "cards": [c.to_json() for c in shown],
        "tracks": tracks,
        "total": len(cards),
        "shown": len(shown),
        "left_out": left_out,
    }
    path = out / PAGE
    write_text_atomic(path, render_page(payload))
    return ReviewPage(path=path, shown=len(shown), left_out=left_out)


def best_model(run_dir: Path) -> str:
    """The run's model with the lowest validation log loss that stored predictions ("" when
    none did)."""
    layout = RunLayout(run_dir)
    stored = [
        f.name
        for f in layout.model_folders()
        if any(f.predictions(s).is_file() for s in SPLIT_ORDER)
    ]
    if not stored:
        return ""
    if layout.leaderboard.is_file():
        board = pd.read_csv(layout.leaderboard)
        if {"model", "val_log_loss"} <= set(board.columns):
            board = board[board["model"].astype(str).isin(stored)]
            board = board.sort_values("val_log_loss", kind="stable", na_position="last")
            if len(board):
                return str(board["model"].iloc[0])
    return stored[0]


def model_predictions(run_dir: Path, model: str) -> list[dict[str, np.ndarray]]:
    """The stored prediction arrays of ``model`` for :data:`SPLIT_ORDER` (those it saved)."""
    folder = RunLayout(run_dir).model(model)
    out = []
    for split in SPLIT_ORDER:
        path = folder.predictions(split)
        if path.is_file():
            with np.load(path, allow_pickle=False) as npz:
                out.append({k: npz[k] for k in npz.files})
    return [a for a in out if "y_true" in a and "proba" in a]


def run_dataset(run_dir: Path) -> PreparedData:
    """The dataset a run prepared, from its manifest (its label fixes applied, its own
    ``splits.csv`` splits)."""
    layout = RunLayout(run_dir)
    config = run_config(run_dir)
    if not config:
        raise DataError(
            f"{run_dir}: not a run folder (no readable {layout.manifest.name} with the run's "
            "configuration); pass a folder written by `fma-harness run`, or --root DATA_DIR"
        )
    # the root the run read: `run` without --root records None and the default it made
    root = config.get("resolved_root") or config.get("root")
    if not root:
        raise DataError(
            f"{layout.manifest}: names no dataset root; review the dataset itself with "
            "`fma-harness review --root DATA_DIR`"
        )
    test_dir = config.get("test_dir")
    data = load_dataset(
        root=Path(root),
        format=config.get("format"),
        subset=config.get("subset", "small"),
        task=config.get("task", "genre_top"),
        resplit=bool(config.get("resplit", False)),
        seed=int(config.get("seed", 0)),
        test_dir=Path(test_dir) if test_dir else None,
    )
    if config.get("label_fixes"):
        data = apply_label_fixes(data, Path(config["label_fixes"]))
    if layout.splits.is_file():  # the run's own splits (a resplit, a fingerprint split)
        table = pd.read_csv(layout.splits, dtype={"track_id": str, "split": str})
        by_text = dict(zip(table["track_id"], table["split"], strict=True))
        index = data.splits.index
        splits = pd.Series(index.astype(str).map(by_text), index=index, dtype=object)
        data = dataclasses.replace(data, splits=splits.fillna(data.splits))
    return data


def review_run(
    run_dir: Path, *, out: Path | None = None, max_cards: int = DEFAULT_MAX_CARDS
) -> ReviewPage:
    """``fma-harness review RUN_DIR``: the page of a run's suspects (``RUN_DIR/review/`` by
    default); one line naming the folder when it is not a run."""
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    if not layout.checks.is_file():
        raise DataError(
            f"{run_dir}: no {layout.checks.name}; pass a run folder whose data checks ran "
            "(`fma-harness run` with its data checks on), or --root DATA_DIR for the data alone"
        )
    data = run_dataset(run_dir)
    model = best_model(run_dir)
    return build_review(
        results=load_checks(layout.checks),
        data=data,
        out=Path(out) if out else run_dir / REVIEW_DIR,
        title=f"fma-harness review: {run_dir.name}",
        predictions=model_predictions(run_dir, model) if model else [],
        model=model,
        max_cards=max_cards,
    )
