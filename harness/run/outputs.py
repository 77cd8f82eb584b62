"""What a run leaves behind besides models: submissions, the leaderboard (file and console),
the report, and data checksums.

The leaderboard's columns follow the task. Single-label: the challenge metrics, sorted by
validation log loss. Multi-label (``genres_all``): the tagging metrics of validation and test,
sorted by validation macro PR-AUC, best first. PR-AUC rather than log loss, because a tagger is
judged by how it ranks the tracks of each genre; most genres tag a few percent of the tracks,
where PR-AUC (unlike ROC-AUC) shows whether the top of the ranking is right, and where the
binary log loss is dominated by the easy negatives and by calibration. Validation rather than
test, so that choosing a model does not look at the test split. A multi-label run also writes
``genres_all.csv`` (the multi-hot labels with the split of each track) and ``tagging.json``
(genres kept and dropped, the genre tree) beside ``splits.csv`` for the report's tagging checks.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.data.prepared import CHALLENGE_GROUP, OWN_FORMATS, PreparedData, training_prior
from harness.report.markdown import markdown_table, render_run
from harness.run.manifest import sha1_file
from harness.run_layout import RunLayout, SubmissionLayout
from harness.scoring.metrics import DegenerateInputWarning
from harness.scoring.submission.score import score_submission
from harness.scoring.submission.write import write_submission
from harness.storage import write_json_atomic

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

TAGGING_METRICS = (
    "pr_auc_macro",
    "roc_auc_macro",
    "roc_auc_micro",
    "f1_macro_at_0.5",
    "f1_micro_at_0.5",
    "f1_macro_tuned",
    "f1_micro_tuned",
    "bce",
)
TAGGING_LEADERBOARD_COLUMNS = (
    "model",
    "status",
    *(f"val_{m}" for m in TAGGING_METRICS),
    *(f"test_{m}" for m in TAGGING_METRICS),
    "val_bce_calibrated",
    "test_bce_calibrated",
    "calibrated_genres",
    "train_seconds",
)
TAGGING_SORT = "val_pr_auc_macro"  # descending: see the module docstring

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

# the console's "mean ± std" columns of a run of several training seeds (harness.run.seeds)
SEED_CONSOLE_METRICS = {
    "test_log_loss": "test logloss",
    "test_macro_f1": "test F1",
    "test_pr_auc_macro": "test PR-AUC",
}

TAGGING_CONSOLE_COLUMNS = {
    "model": "model",
    "status": "status",
    "val_pr_auc_macro": "val PR-AUC",
    "test_pr_auc_macro": "test PR-AUC",
    "test_roc_auc_macro": "test ROC-AUC",
    "test_roc_auc_micro": "test ROC-AUC micro",
    "test_f1_macro_at_0.5": "test F1@0.5",
    "test_f1_macro_tuned": "test F1 tuned",
    "test_f1_micro_tuned": "test micro-F1 tuned",
    "train_seconds": "train s",
}


def is_tagging(frame: pd.DataFrame) -> bool:
    """True for a multi-label leaderboard (its rows carry the tagging metrics)."""
    return TAGGING_SORT in frame.columns


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
    data: PreparedData,
    outcomes: list[Any],
    *,
    submission_dir: Path,
    answers: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Write ``<submission_dir>/<model>.csv`` for each model with challenge predictions.

    Each file is validated as it is written (header, probabilities, one row per clip of the
    test folder). With ``answers``, the answer key of that test folder, it is also scored: the
    row gets ``submission_log_loss`` and ``submission_macro_f1``. Without, the row's
    ``submission_note`` says it was not scored. A submission that cannot be written or scored
    is a ``submission_note`` too, never an error: the run goes on to its leaderboard.

    Returns the score of each scored submission, keyed by model name.
    """
    scores: dict[str, dict[str, float]] = {}
    for outcome in outcomes:
        arrays = outcome.predictions.get(CHALLENGE_GROUP)
        if arrays is None:
            continue
        try:
            file_ids, proba = challenge_probabilities(data, arrays)
            path = SubmissionLayout(submission_dir).model_csv(outcome.name)
            write_submission(file_ids, proba, list(data.classes), path)
            if answers is None:
                outcome.row["submission_note"] = "not scored: no answer key (--answers)"
                continue
            with warnings.catch_warnings():  # 16 submission columns, fewer genres in the key
                warnings.simplefilter("ignore", DegenerateInputWarning)
                result = score_submission(path, answers)
        except Exception as exc:  # a submission must not cost the run its leaderboard
            outcome.row["submission_note"] = f"failed: {type(exc).__name__}: {exc}"[:200]
            continue
        scores[outcome.name] = {k: float(result[k]) for k in ("log_loss", "macro_f1")}
        outcome.row["submission_log_loss"] = round(scores[outcome.name]["log_loss"], 4)
        outcome.row["submission_macro_f1"] = round(scores[outcome.name]["macro_f1"], 4)
    return scores


def leaderboard_frame(outcomes: list[Any]) -> pd.DataFrame:
    """One row per model, the standard columns first (the task's: see the module docstring),
    sorted by validation log loss, or by validation macro PR-AUC (best first) when tagging."""
    frame = pd.DataFrame([o.row for o in outcomes])
    tagging = is_tagging(frame)
    standard = TAGGING_LEADERBOARD_COLUMNS if tagging else LEADERBOARD_COLUMNS
    ordered = [c for c in standard if c in frame.columns]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    if tagging:
        frame = frame.sort_values(TAGGING_SORT, ascending=False, na_position="last", kind="stable")
    elif "val_log_loss" in frame.columns:
        frame = frame.sort_values("val_log_loss", na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def write_splits(data: PreparedData, path: Path) -> None:
    """Write ``splits.csv``: track_id, split and artist_id of every labelled track (the
    artist lets the report check whether a model's errors gather on one artist)."""
    frame = pd.DataFrame({"split": data.splits})
    frame["artist_id"] = (
        data.tracks.get(("artist", "id"), pd.Series(dtype=object)).reindex(frame.index).to_numpy()
    )  # NaN where the dataset names no artist (a folder per label)
    frame.index.name = "track_id"
    frame.to_csv(path)
    layout = RunLayout(Path(path).parent)
    write_json_atomic(
        layout.preparation,
        {
            "format": data.subset if data.subset in OWN_FORMATS else "fma",
            "subset": data.subset,
            "split_source": data.splits.attrs.get("source", "given"),
            "n_unlabelled": int(data.n_unlabelled),
            "notes": list(data.notes),
        },
    )  # shown in the report (harness.checks.runs.preparation)
    if data.task == "genres_all":
        write_tagging_labels(data, layout.root)


def write_tagging_labels(data: PreparedData, run_dir: Path) -> None:
    """Multi-label runs: ``genres_all.csv`` (track_id, split, one 0/1 column per kept genre)
    and ``tagging.json`` (minimum training tracks, kept and dropped genres, parents)."""
    labels = data.labels.copy()
    labels.insert(0, "split", data.splits.reindex(labels.index).to_numpy())
    labels.index.name = "track_id"
    layout = RunLayout(run_dir)
    labels.to_csv(layout.tagging_labels)
    write_json_atomic(
        layout.tagging_info,
        {
            "min_genre_count": data.min_genre_count,
            "genres": list(data.classes),
            "dropped_genres": data.dropped_genres,
            "parents": data.genre_parents,
            "notes": data.notes,
        },
    )


def write_leaderboard(run_dir: Path, outcomes: list[Any]) -> pd.DataFrame:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` and return the table."""
    layout = RunLayout(run_dir)
    frame = leaderboard_frame(outcomes)
    if "n_seeds" in frame.columns:  # the ensemble's is blank: the others' stay whole numbers
        frame["n_seeds"] = frame["n_seeds"].astype("Int64")
    frame.to_csv(layout.leaderboard, index=False)
    blanked = frame.astype(object).where(frame.notna(), "")  # a missing score shows as empty
    text = markdown_table(blanked) + "\n"
    if is_tagging(frame):
        text += tagging_notes(run_dir)
    layout.leaderboard_md.write_text(text, "utf-8")
    return frame


def tagging_notes(run_dir: Path) -> str:
    """The notes under a tagging leaderboard: how it is sorted, and what ``tagging.json`` says
    was left out (the genres dropped as too rare); Markdown, ending in a newline."""
    lines = [
        "",
        f"Sorted by {TAGGING_SORT} (descending). F1 tuned: per-genre thresholds tuned on "
        "validation (val_f1_*_tuned is optimistic), applied unchanged to test.",
    ]
    path = RunLayout(run_dir).tagging_info
    if path.exists():
        lines += [f"- {note}" for note in json.loads(path.read_text("utf-8"))["notes"]]
    return "\n".join(lines) + "\n"


def data_checksums(data: PreparedData, run_dir: Path) -> dict[str, str]:
    """SHA-1 of tracks.csv (or the manifest), genres.csv, features.csv (when present) and the
    run's split table."""
    sums = {}
    if data.index_file is not None:
        sums[Path(data.index_file).name] = sha1_file(Path(data.index_file))
    for path in (data.layout.tracks_csv, data.layout.genres_csv, data.layout.features_csv):
        if path.exists():
            sums[path.name] = sha1_file(path)
    splits = RunLayout(run_dir).splits
    if splits.exists():
        sums[splits.name] = sha1_file(splits)
    return sums


def render_report(run_dir: Path, *, n_jobs: int = 1) -> None:
    """Write ``report.md`` and ``report.html`` for the run (its checks in ``n_jobs``
    processes: :func:`harness.report.markdown.collect_run`)."""
    with warnings.catch_warnings():  # classes absent from a split are a label check finding
        warnings.simplefilter("ignore", DegenerateInputWarning)
        render_run(run_dir, n_jobs=n_jobs)


def seed_spread_columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The console's ``mean ± std`` over the training seeds of the main test metrics and
    their number of seeds; none for a single-seed run (its leaderboard has no ``n_seeds``)."""
    if "n_seeds" not in frame.columns:
        return {}
    columns = {}
    for metric, label in SEED_CONSOLE_METRICS.items():
        if f"{metric}_mean" in frame.columns:
            pairs = zip(frame[f"{metric}_mean"], frame[f"{metric}_std"], strict=True)
            columns[f"{label} mean ± std"] = [
                "" if pd.isna(mean) else f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")
                for mean, std in pairs
            ]
    columns["seeds"] = ["" if pd.isna(n) else str(n) for n in frame["n_seeds"]]
    return columns


def print_leaderboard(frame: pd.DataFrame, *, run_dir: Path, submission_dir: Path) -> None:
    """Print the leaderboard as a rich table and say where everything went."""
    tagging = is_tagging(frame)
    names = TAGGING_CONSOLE_COLUMNS if tagging else CONSOLE_COLUMNS
    shown = [c for c in names if c in frame.columns]
    order = "validation macro PR-AUC, best first" if tagging else "validation log loss"
    spread = seed_spread_columns(frame)
    if spread:
        order += " of the main seed; mean ± std over the training seeds"
    layout = RunLayout(run_dir)
    every = f"all columns in {layout.leaderboard.name}"
    table = Table(title=f"Leaderboard (sorted by {order}; {every})")
    for column in [*shown, *spread]:
        label = names.get(column, column)
        table.add_column(label, justify="left" if column == "model" else "right")
    for row in frame[shown].assign(**spread).itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else str(v) for v in row])
    console = Console(width=200)
    console.print(table)
    console.print(f"Run directory: {run_dir}  (report: {layout.report_html})")
    if submission_dir.exists():
        console.print(f"Submissions: {submission_dir}")
