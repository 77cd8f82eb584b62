"""Several runs side by side: each model's mean and spread over runs, and how often it led.

One run scores every model on one split. On a small dataset the split decides much of the
ranking: on a 40-track test split one track moves macro F1 by about 0.025, and a run whose
test split happens to suit one model can reverse the order that validation showed. Runs with
different ``--seed`` values draw different splits (where the dataset does not fix them) and
train with different seeds, so comparing models over several such runs separates what a model
does from what one split did. ``fma-harness compare RUN_DIR ...`` reads their leaderboards.

Per model, over the runs in which it trained without failing: the mean and the sample standard
deviation of every ``val_*`` / ``test_*`` score (:func:`~harness.run.seeds.aggregate_seeds`,
as ``--seeds`` aggregates within a run), the number of runs, and, against a reference model, in
how many runs the model was ahead of it on both of the task's two test measures
(:data:`HEAD_TO_HEAD`: log loss and macro F1 for ``genre_top``, BCE and macro PR-AUC for
``genres_all``). A leaderboard's own columns are its main seed's scores, so a run made with
``--seeds`` counts once, with its main seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness import log
from harness.checks.runs.failures import read_leaderboard
from harness.errors import DataError, ParameterError
from harness.run.seeds import aggregate_seeds
from harness.run_layout import IN_RUN, RunLayout, run_config

# per task: the two test measures a model must both beat the reference on, each with True where
# higher is better
HEAD_TO_HEAD = {
    "genre_top": (("test_log_loss", False), ("test_macro_f1", True)),
    "genres_all": (("test_bce", False), ("test_pr_auc_macro", True)),
}
# per task: the validation score the table is sorted by, and whether higher is better
SORT_BY = {"genre_top": ("val_log_loss", False), "genres_all": ("val_pr_auc_macro", True)}
SEED_SUFFIXES = ("_mean", "_std", "n_seeds")  # the columns --seeds adds to a leaderboard


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` found: the runs' task, their number, and the table."""

    task: str
    n_runs: int
    table: pd.DataFrame


@dataclass(frozen=True)
class RunBoard:
    """One run's leaderboard and what its manifest says of the run (``""`` where unknown)."""

    run_dir: Path
    task: str
    root: str
    seed: str
    board: pd.DataFrame


def board_task(board: pd.DataFrame, path: Path) -> str:
    """``genre_top`` or ``genres_all``, from the test measures the leaderboard holds."""
    for task, measures in HEAD_TO_HEAD.items():
        if all(name in board.columns for name, _ in measures):
            return task
    if "status" in board.columns and not (board["status"] == "ok").any():
        raise DataError(
            f"{path}: every model of this run failed (see its {IN_RUN.model('*').error}), "
            "so it has no scores to compare; leave it out"
        )
    raise DataError(
        f"{path}: no test_log_loss/test_macro_f1 or test_bce/test_pr_auc_macro columns; expected "
        "a leaderboard written by `fma-harness run`"
    )


def read_run(run_dir: Path | str) -> RunBoard:
    """A run's leaderboard (``<run_dir>/leaderboard.csv``) and its manifest's root and seed."""
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    path = layout.leaderboard
    board = read_leaderboard(run_dir)
    if board is None:
        raise DataError(
            f"{run_dir}: no {path.name}; pass run directories that `fma-harness run` finished "
            "(runs/<run-id>)"
        )
    if not {"model", "status"} <= set(board.columns):
        raise DataError(f"{path}: no model and status columns; expected a run's leaderboard")
    config = run_config(run_dir)
    return RunBoard(
        run_dir=run_dir,
        task=board_task(board, path),
        root=str(config.get("root", "")),
        seed=str(config.get("seed", "")),
        board=board,
    )


def read_runs(run_dirs: list[Path]) -> list[RunBoard]:
    """The leaderboards of ``run_dirs``, which must be at least two runs of one task."""
    if len(run_dirs) < 2:
        raise ParameterError(
            f"{len(run_dirs)} run given; compare needs two run directories or more"
        )
    runs = [read_run(d) for d in run_dirs]
    for run in runs[1:]:
        if run.task != runs[0].task:
            raise ParameterError(
                f"{run.run_dir} is a {run.task} run and {runs[0].run_dir} a {runs[0].task} run; "
                "compare runs of one task"
            )
    roots = {run.root for run in runs if run.root}
    if len(roots) > 1:
        log.warning(
            f"these runs read {len(roots)} datasets ({', '.join(sorted(roots))}): their scores "
            "mix datasets as well as splits"
        )
    for run in runs:
        log.detail(f"{run.run_dir}: dataset {run.root or '?'}, seed {run.seed or '?'}")
    return runs


def stacked(runs: list[RunBoard]) -> pd.DataFrame:
    """Every run's leaderboard rows, one after another, with a ``run`` column (its folder).

    The columns a ``--seeds`` run adds (``<metric>_mean``, ``<metric>_std``, ``n_seeds``) are
    left out: such a run counts with its main seed's scores, as every other run does."""
    frames = []
    for run in runs:
        seed_columns = [c for c in run.board.columns if c.endswith(SEED_SUFFIXES)]
        frames.append(run.board.drop(columns=seed_columns).assign(run=str(run.run_dir)))
    return pd.concat(frames, ignore_index=True)


def ahead_counts(runs: list[RunBoard], against: str) -> pd.DataFrame:
    """Per model: ``runs_with_<against>`` (runs in which both trained without failing) and
    ``ahead_of_<against>`` (of those, the runs where the model beat ``against`` on both of the
    task's :data:`HEAD_TO_HEAD` measures)."""
    measures = HEAD_TO_HEAD[runs[0].task]
    shared: dict[str, int] = {}
    ahead: dict[str, int] = {}
    for run in runs:
        ok = run.board[run.board["status"] == "ok"].set_index("model")
        if against not in ok.index:
            continue
        reference = ok.loc[against]
        for model, row in ok.iterrows():
            shared[model] = shared.get(model, 0) + 1
            better = [
                row[name] > reference[name] if higher else row[name] < reference[name]
                for name, higher in measures
            ]
            ahead[model] = ahead.get(model, 0) + int(all(better))
    return pd.DataFrame(
        {f"runs_with_{against}": pd.Series(shared), f"ahead_of_{against}": pd.Series(ahead)}
    )


def compare_runs(run_dirs: list[Path], *, against: str | None = None) -> Comparison:
    """The runs' task and count, and their table: one row per model (sorted by mean validation
    score, best first) with ``model``, ``n_runs`` (runs it trained in without failing),
    ``<metric>_mean`` and ``<metric>_std`` of every score, and with ``against`` the
    :func:`ahead_counts` columns.

    Raises
    ------
    ParameterError
        Fewer than two runs, runs of different tasks, or ``against`` in none of the runs.
    DataError
        A folder without a run's leaderboard.
    """
    runs = read_runs(run_dirs)
    rows = stacked(runs)
    table = aggregate_seeds(rows).rename(columns={"n_seeds": "n_runs"})
    if against is not None:
        if against not in set(rows["model"]):
            models = ", ".join(dict.fromkeys(rows["model"]))
            raise ParameterError(
                f"--against {against}: no such model in these runs (they have: {models})"
            )
        counts = ahead_counts(runs, against).reindex(table.index).fillna(0).astype(int)
        table = table.join(counts)
    column, higher = SORT_BY[runs[0].task]
    table = table.sort_values(f"{column}_mean", ascending=not higher, na_position="last")
    return Comparison(runs[0].task, len(runs), table.rename_axis("model").reset_index())
