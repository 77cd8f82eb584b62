"""Failures: the models of a run that failed, at the top of its report.

A model whose fit, scoring or saving raised is still a row of ``leaderboard.csv``: its status
is ``failed: <error>`` and its traceback is in ``models/<name>/error.txt``
(:func:`harness.run.model_run.run_model`). This family turns those rows into one FAIL
naming each model, its error and its traceback file, so that a run whose models failed never
reads as a clean report. A challenge submission that could not be written or scored (the row's
``submission_note`` starts with ``failed``) is a WARN.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.checks.base import CheckResult
from harness.errors import DataError
from harness.run_layout import IN_RUN, RunLayout

FAMILY = "failures"
FAILED = "failed"  # prefix of the status (and submission note) of what failed
MAX_ERROR_CHARS = 160  # an error quoted in a finding; the table and error.txt hold all of it


def read_leaderboard(run_dir: Path) -> pd.DataFrame | None:
    """``leaderboard.csv`` of a run (None when the run wrote none)."""
    path = RunLayout(Path(run_dir)).leaderboard
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, dtype={"model": str, "status": str})
    except ValueError as exc:  # not UTF-8 or not a CSV (pandas' parser errors are ValueErrors)
        raise DataError(
            f"{path}: not a leaderboard CSV ({type(exc).__name__}); the run is damaged: run "
            "it again"
        ) from None


def _failed(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.startswith(FAILED)


def failed_models(run_dir: Path) -> dict[str, str]:
    """model -> error of every model whose leaderboard row says it failed (leaderboard order)."""
    board = read_leaderboard(run_dir)
    if board is None or "status" not in board.columns:
        return {}
    rows = board[_failed(board["status"])]
    errors = rows["status"].str.removeprefix(f"{FAILED}:").str.strip()
    return dict(zip(rows["model"], errors, strict=True))


def from_run(run_dir: Path) -> list[CheckResult]:
    """The failed models (one FAIL, or a PASS when every model trained) and failed submissions."""
    board = read_leaderboard(run_dir)
    if board is None:
        finding = f"no {IN_RUN.leaderboard} in the run directory"
        return [CheckResult(FAMILY, "models", "SKIP", finding)]
    failed = failed_models(run_dir)
    results = [models_result(run_dir, failed, n_models=len(board))]
    if "submission_note" in board.columns:
        notes = board[_failed(board["submission_note"])]
        if len(notes):
            results.append(submissions_result(notes))
    return results


def models_result(run_dir: Path, failed: dict[str, str], *, n_models: int) -> CheckResult:
    """FAIL naming each failed model, its error and traceback file; PASS when none failed."""
    if not failed:
        return CheckResult(FAMILY, "models", "PASS", f"all {n_models} models trained and scored")
    layout = RunLayout(Path(run_dir))
    quoted = "; ".join(
        f"{model}: {_short(error)} (traceback: {layout.model(model).error})"
        for model, error in failed.items()
    )
    table = pd.DataFrame(
        {
            "model": list(failed),
            "error": list(failed.values()),
            "traceback": [str(layout.model(m).error) for m in failed],
        }
    )
    return CheckResult(
        FAMILY,
        "models",
        "FAIL",
        f"{len(failed)} of {n_models} models failed: {quoted}",
        evidence=table,
        action=f"read each traceback ({IN_RUN.model('<name>').error}), fix the model's settings "
        "([params.NAME] in run.toml) or its code, and rerun; a failed model has no scores, no "
        "submission and no place in the results below",
    )


def submissions_result(notes: pd.DataFrame) -> CheckResult:
    """WARN listing the models whose challenge submission could not be written or scored."""
    pairs = zip(notes["model"], notes["submission_note"], strict=True)
    return CheckResult(
        FAMILY,
        "submissions",
        "WARN",
        f"{len(notes)} submissions could not be written or scored: "
        + "; ".join(f"{model}: {_short(note)}" for model, note in pairs),
        evidence=notes[["model", "submission_note"]].reset_index(drop=True),
        action="check the test folder (--test-dir) and its answer key (--answers); "
        "`fma-harness validate` lists every problem of a submission file",
    )


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
