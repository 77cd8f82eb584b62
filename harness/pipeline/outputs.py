"""What a run leaves behind besides models: submissions, the leaderboard (file and console),
the report, and data checksums."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.data.prepared import CHALLENGE_GROUP, PreparedData, training_prior
from harness.pipeline.manifest import sha1_file
from harness.report.markdown import markdown_table, render_run
from harness.scoring.metrics import DegenerateInputWarning
from harness.scoring.submission.score import score_submission
from harness.scoring.submission.write import write_submission

LEADERBOARD_COLUMNS = (
    "model",
    "status",
    "val_log_loss",
    "val_macro_f1",
    "val_accuracy",
    "test_log_loss",
    "test_macro_f1",
    "test_accuracy",
    "test_log_loss_calibrated",
    "temperature",
    "submission_log_loss",
    "submission_macro_f1",
    "train_seconds",
)

CONSOLE_COLUMNS = {
    "model": "model",
    "status": "status",
    "val_log_loss": "val logloss",
    "val_macro_f1": "val F1",
    "test_log_loss": "test logloss",
    "test_log_loss_calibrated": "test logloss (cal.)",
    "test_macro_f1": "test F1",
    "test_accuracy": "test acc",
    "submission_log_loss": "submission logloss",
    "train_seconds": "train s",
}


def challenge_probabilities(
    data: PreparedData, predictions: dict[str, np.ndarray]
) -> tuple[list[str], np.ndarray]:
    """Calibrated probabilities for every challenge clip, in the task's class order.

    A clip that could not be decoded still needs a row: it gets the training class frequencies
    (the ``prior`` reference), which is the best guess without audio.

    Returns
    -------
    file_ids : list of str, length n
    proba : np.ndarray, shape (n, len(data.classes))
    """
    all_ids = [str(k) for k in data.keys(CHALLENGE_GROUP)]
    prior = training_prior(data)
    predicted = dict(
        zip(predictions["keys"].tolist(), predictions["proba_calibrated"], strict=True)
    )
    proba = np.vstack([predicted.get(i, prior) for i in all_ids])
    return all_ids, proba


def write_submissions(
    data: PreparedData, outcomes: list[Any], *, submission_dir: Path
) -> dict[str, dict[str, float]]:
    """Write ``<submission_dir>/<model>.csv`` for each model with challenge predictions.

    Returns the score of each submission against the answer key when one exists
    (``crowdai_fma_test_answers.csv`` of the synthetic set), keyed by model name.
    """

    scores: dict[str, dict[str, float]] = {}
    answers = data.layout.answers_csv
    for outcome in outcomes:
        arrays = outcome.predictions.get(CHALLENGE_GROUP)
        if arrays is None:
            continue
        file_ids, proba = challenge_probabilities(data, arrays)
        path = submission_dir / f"{outcome.name}.csv"
        write_submission(file_ids, proba, list(data.classes), path)
        if answers.exists():
            with warnings.catch_warnings():  # 16 submission columns, fewer genres in the key
                warnings.simplefilter("ignore", DegenerateInputWarning)
                result = score_submission(path, answers)
            scores[outcome.name] = {k: float(result[k]) for k in ("log_loss", "macro_f1")}
            outcome.row["submission_log_loss"] = round(scores[outcome.name]["log_loss"], 4)
            outcome.row["submission_macro_f1"] = round(scores[outcome.name]["macro_f1"], 4)
    return scores


def leaderboard_frame(outcomes: list[Any]) -> pd.DataFrame:
    """One row per model, the standard columns first, sorted by validation log loss."""
    frame = pd.DataFrame([o.row for o in outcomes])
    ordered = [c for c in LEADERBOARD_COLUMNS if c in frame.columns]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    if "val_log_loss" in frame.columns:
        frame = frame.sort_values("val_log_loss", na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def write_splits(data: PreparedData, path: Path) -> None:
    """Write ``splits.csv``: track_id, split and artist_id of every labelled track (the
    artist lets the report check whether a model's errors gather on one artist)."""
    frame = pd.DataFrame({"split": data.splits})
    frame["artist_id"] = data.tracks[("artist", "id")].reindex(frame.index).to_numpy()
    frame.index.name = "track_id"
    frame.to_csv(path)


def write_leaderboard(run_dir: Path, outcomes: list[Any]) -> pd.DataFrame:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` and return the table."""
    frame = leaderboard_frame(outcomes)
    frame.to_csv(run_dir / "leaderboard.csv", index=False)
    blanked = frame.astype(object).where(frame.notna(), "")  # a missing score shows as empty
    (run_dir / "leaderboard.md").write_text(markdown_table(blanked) + "\n", "utf-8")
    return frame


def data_checksums(data: PreparedData, run_dir: Path) -> dict[str, str]:
    """SHA-1 of tracks.csv, genres.csv, features.csv (when present) and the run's split table."""
    sums = {"tracks.csv": sha1_file(data.layout.tracks_csv)}
    for name, path in (
        ("genres.csv", data.layout.genres_csv),
        ("features.csv", data.layout.features_csv),
    ):
        if path.exists():
            sums[name] = sha1_file(path)
    if (run_dir / "splits.csv").exists():
        sums["splits.csv"] = sha1_file(run_dir / "splits.csv")
    return sums


def render_report(run_dir: Path) -> None:
    """Write ``report.md`` and ``report.html`` for the run."""
    with warnings.catch_warnings():  # classes absent from a split are a label check finding
        warnings.simplefilter("ignore", DegenerateInputWarning)
        render_run(run_dir)


def print_leaderboard(frame: pd.DataFrame, *, run_dir: Path, submission_dir: Path) -> None:
    """Print the leaderboard as a rich table and say where everything went."""
    shown = [c for c in CONSOLE_COLUMNS if c in frame.columns]
    table = Table(
        title="Leaderboard (sorted by validation log loss; all columns in leaderboard.csv)"
    )
    for column in shown:
        table.add_column(CONSOLE_COLUMNS[column], justify="left" if column == "model" else "right")
    for row in frame[shown].itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else str(v) for v in row])
    console = Console(width=200)
    console.print(table)
    console.print(f"Run directory: {run_dir}  (report: {run_dir / 'report.html'})")
    if submission_dir.exists():
        console.print(f"Submissions: {submission_dir}")
