"""Results over several training seeds: how much of a model's score is the seed's doing.

The results checks' bootstrap intervals (:mod:`harness.checks.runs.results`) cover the sampling of
the evaluated tracks, not the randomness of training (initialisation, batch order, crops,
augmentation). A run with ``--seeds 0,1,2`` trains every model once per seed on the same
splits and features (:mod:`harness.run.seeds`) and leaves:

- ``leaderboard_seeds.csv``: one row per model and seed, seeds in ``--seeds`` order (the main
  seed first), columns ``model``, ``seed``, ``status`` and every ``val_*`` / ``test_*`` metric;
- the main seed's models in ``models/<name>/``, each further seed's in
  ``seeds/seed<k>/models/<name>/`` (``predictions_<split>.npz`` as everywhere).

From these, three checks of the ``results`` family: the seed spread of log loss and macro F1
beside the main seed's bootstrap interval, the paired comparison of the two best models run
once per seed, and whether the ranking by log loss changes between seeds. A run of one seed
gets a SKIP saying how to see the spread.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult
from harness.checks.runs.results import CLEAR_WIN, N_BOOT, load_predictions, paired_comparison
from harness.registry import REFERENCE_MODELS
from harness.run_layout import IN_RUN, RunLayout
from harness.scoring import metrics
from harness.scoring.metrics.single import DegenerateInputWarning

FAMILY = "results"
SEED_HINT = "run with --seeds 0,1,2 to see the spread"
SPLIT_NAMES = {"test": "test", "val": "validation"}  # leaderboard prefix -> predictions split


def read_seed_table(run_dir: Path) -> pd.DataFrame | None:
    """``leaderboard_seeds.csv`` of a run, or None when the run trained one seed."""
    path = RunLayout(Path(run_dir)).seed_table
    return pd.read_csv(path) if path.is_file() else None


@dataclass
class Flip:
    """Two models whose order by the metric differs between seeds."""

    ahead: str  # the better of the two on the mean over seeds
    behind: str
    ahead_in: list[int] = field(default_factory=list)  # seeds where ``ahead`` scores better
    behind_in: list[int] = field(default_factory=list)  # seeds where ``behind`` does

    def sentence(self) -> str:
        return (
            f"{self.ahead} vs {self.behind} ({self.ahead} ahead in {_seeds(self.ahead_in)} but "
            f"{self.behind} in {_seeds(self.behind_in)})"
        )


@dataclass
class RankingChanges:
    """Per seed the best model (lowest metric), and every pair of models that swaps places."""

    winners: dict[int, str]
    flips: list[Flip]

    @property
    def winner_changes(self) -> bool:
        return len(set(self.winners.values())) > 1


def seed_pivot(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` per model (rows, best mean first) and seed (columns, in table order), for
    the trained (non-reference) models scored on every seed of the table."""
    seeds = list(dict.fromkeys(table["seed"]))
    pivot = table.pivot_table(index="model", columns="seed", values=metric, sort=False)
    pivot = pivot.reindex(columns=seeds).dropna()
    pivot = pivot[[m not in REFERENCE_MODELS for m in pivot.index]]
    order = pivot.mean(axis=1).sort_values(kind="stable").index
    return pivot.loc[order]


def ranking_changes(table: pd.DataFrame, metric: str) -> RankingChanges:
    """Where the ranking by ``metric`` (lower is better, e.g. log loss) changes between seeds.

    Parameters
    ----------
    table : pd.DataFrame
        One row per model and seed (``leaderboard_seeds.csv``): columns ``model``, ``seed``
        and ``metric``; only models scored on every seed are ranked. A tie is no flip.
    """
    pivot = seed_pivot(table, metric)
    winners = {int(s): str(pivot[s].idxmin()) for s in pivot.columns} if len(pivot) else {}
    flips = []
    for ahead, behind in itertools.combinations(pivot.index, 2):
        difference = pivot.loc[ahead] - pivot.loc[behind]
        ahead_in = [int(s) for s in pivot.columns[difference < 0]]
        behind_in = [int(s) for s in pivot.columns[difference > 0]]
        if ahead_in and behind_in:
            flips.append(Flip(str(ahead), str(behind), ahead_in, behind_in))
    return RankingChanges(winners=winners, flips=flips)


def from_run(run_dir: Path) -> list[CheckResult]:
    """The seed spread, the per-seed paired comparison and the ranking's stability."""
    table = read_seed_table(run_dir)
    if table is None or table["seed"].nunique() < 2:
        return [CheckResult(FAMILY, "seed_spread", "SKIP", f"one training seed: {SEED_HINT}")]
    prefix = _scored_prefix(table)
    if prefix is None:
        reason = (
            f"multi-label run: the tagging metrics of every seed are in {IN_RUN.seed_table}, "
            f"their mean and std over the seeds in {IN_RUN.leaderboard}"
        )
        return [CheckResult(FAMILY, "seed_spread", "SKIP", reason)]
    with warnings.catch_warnings():  # a class absent from a small split: see results checks
        warnings.simplefilter("ignore", DegenerateInputWarning)
        return [
            seed_spread(run_dir, table, prefix),
            seed_paired_comparison(run_dir, table, prefix),
            seed_ranking(table, prefix),
        ]


def _scored_prefix(table: pd.DataFrame) -> str | None:
    """``test`` when the seeds were scored on a test split, else ``val``; None when no log
    loss was stored (a multi-label run)."""
    for prefix in SPLIT_NAMES:
        column = f"{prefix}_log_loss"
        if column in table.columns and table[column].notna().any():
            return prefix
    return None


def seed_spread(run_dir: Path, table: pd.DataFrame, prefix: str) -> CheckResult:
    """Per model: mean, std and range over the seeds of log loss and macro F1, beside the
    main seed's value and its bootstrap 95% interval (the evaluated tracks' sampling)."""
    seeds = list(dict.fromkeys(table["seed"]))
    split = SPLIT_NAMES[prefix]
    main = load_predictions(run_dir, split=split)
    rows = []
    for model, group in table.groupby("model", sort=False):
        row: dict[str, object] = {"model": model, "seeds": int(group["status"].eq("ok").sum())}
        for metric in ("log_loss", "macro_f1"):
            values = group[f"{prefix}_{metric}"].dropna()
            row[f"{metric} mean"] = round(values.mean(), 4)
            row[f"{metric} std"] = round(values.std(), 4)
            row[f"{metric} min–max"] = f"{values.min():.3f}–{values.max():.3f}"
            row[f"{metric} main-seed 95% CI"] = _interval(main.get(model), metric)
        rows.append(row)
    frame = pd.DataFrame(rows)
    failed = table[table["status"] != "ok"]
    widest = frame.loc[frame["log_loss std"].fillna(-1).idxmax()]
    finding = (
        f"{len(seeds)} training seeds ({_seeds(seeds)}; main seed {seeds[0]}), {split} split: "
        f"largest seed spread of log loss {widest['model']}, std {widest['log_loss std']:.3f}, "
        f"range {widest['log_loss min–max']}, against its main-seed bootstrap interval "
        f"{widest['log_loss main-seed 95% CI']}"
    )
    if len(failed):
        pairs = zip(failed["model"], failed["seed"], strict=True)
        named = ", ".join(f"{model} (seed {seed})" for model, seed in pairs)
        finding += f"; failed on some seeds: {named}"
    return CheckResult(
        FAMILY,
        "seed_spread",
        "WARN" if len(failed) else "PASS",
        finding,
        evidence=frame,
        action=(
            f"see the failed seeds' {IN_RUN.model('<name>').error.name} under "
            f"{IN_RUN.seed_run('<k>').model('<name>').root}/"
            if len(failed)
            else "the interval is the evaluated tracks' noise, the std the training seed's: "
            "a difference between models smaller than either is not a result"
        ),
    )


def _interval(arrays: dict[str, np.ndarray] | None, metric: str) -> str:
    """The bootstrap 95% interval of ``metric`` on one model's stored predictions."""
    if arrays is None or "y_true" not in arrays:
        return ""
    labels = list(arrays["classes"].astype(str))
    low, high = metrics.bootstrap_ci(
        getattr(metrics, metric),
        arrays["y_true"].astype(str),
        arrays["proba"],
        n_boot=N_BOOT,
        seed=0,
        labels=labels,
    )
    return f"[{low:.3f}, {high:.3f}]"


def seed_paired_comparison(run_dir: Path, table: pd.DataFrame, prefix: str) -> CheckResult:
    """The two best models (mean log loss over the seeds) on the same paired resamples of the
    evaluated tracks, once per seed (:func:`harness.checks.runs.results.paired_comparison`)."""
    pivot = seed_pivot(table, f"{prefix}_log_loss")
    if len(pivot) < 2:
        return CheckResult(
            FAMILY,
            "seed_paired_comparison",
            "SKIP",
            "fewer than two trained models scored on every seed",
        )
    best, second = pivot.index[:2]
    split, main = SPLIT_NAMES[prefix], pivot.columns[0]
    rows = []
    for seed in pivot.columns:
        layout = RunLayout(Path(run_dir))
        folder = layout.root if seed == main else layout.seed_run(seed).root
        preds = load_predictions(folder, split=split)
        if best not in preds or second not in preds:
            continue
        pair = {best: preds[best], second: preds[second]}
        result = paired_comparison(pair, split=split, baseline=second, seed=0)
        rows.append(result.evidence.drop(columns="model").assign(seed=int(seed)))
    if not rows:
        return CheckResult(
            FAMILY,
            "seed_paired_comparison",
            "SKIP",
            f"no stored {split} predictions of {best} and {second}",
        )
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[["seed", *[c for c in frame.columns if c != "seed"]]]
    better = frame.loc[frame["log_loss better in"] >= CLEAR_WIN, "seed"].tolist()
    worse = frame.loc[frame["log_loss worse in"] >= CLEAR_WIN, "seed"].tolist()
    unclear = [s for s in frame["seed"] if s not in better + worse]
    verdicts = [f"clearly better on log loss in {_seeds(better) or 'no seed'}"]
    verdicts += [f"clearly worse in {_seeds(worse)}"] if worse else []
    verdicts += [f"not distinguishable in {_seeds(unclear)}"] if unclear else []
    finding = (
        f"{best} minus {second} (the two best by mean {split} log loss), {N_BOOT} paired "
        f"resamples of the {split} tracks per seed: {best} " + "; ".join(verdicts)
    )
    return CheckResult(
        FAMILY,
        "seed_paired_comparison",
        "PASS",
        finding,
        evidence=frame,
        action="the seeds disagree on whether the difference is real: train more seeds or "
        "evaluate on more tracks"
        if unclear and better
        else "",
    )


def seed_ranking(table: pd.DataFrame, prefix: str) -> CheckResult:
    """WARN when the best model by log loss is not the same in every seed; PASS otherwise,
    naming any lower places that swap."""
    metric, split = f"{prefix}_log_loss", SPLIT_NAMES[prefix]
    pivot = seed_pivot(table, metric)
    if len(pivot) < 2:
        return CheckResult(
            FAMILY, "seed_ranking", "SKIP", "fewer than two trained models scored on every seed"
        )
    changes = ranking_changes(table, metric)
    evidence = pivot.round(4).rename(columns=lambda s: f"seed {s}")
    evidence.insert(0, "mean", pivot.mean(axis=1).round(4))
    ranks = pivot.rank(axis=0, method="min").astype(int).astype(str)
    evidence["ranks"] = ranks.apply(", ".join, axis=1)
    evidence = evidence.reset_index()
    flips = "; ".join(flip.sentence() for flip in changes.flips)
    if changes.winner_changes:
        by_winner: dict[str, list[int]] = {}
        for seed, winner in changes.winners.items():
            by_winner.setdefault(winner, []).append(seed)
        named = "; ".join(f"{m} in {_seeds(s)}" for m, s in by_winner.items())
        finding = f"the best model by {split} log loss changes between seeds: {named}"
        finding += f"; order flips: {flips}"
    else:
        winner = next(iter(changes.winners.values()))
        finding = f"the best model by {split} log loss is {winner} in all {pivot.shape[1]} seeds"
        finding += (
            f"; lower places swap: {flips}"
            if flips
            else f"; the same order in every seed, best first: {', '.join(pivot.index)}"
        )
    return CheckResult(
        FAMILY,
        "seed_ranking",
        "WARN" if changes.winner_changes else "PASS",
        finding,
        evidence=evidence,
        action="the seeds disagree on the best model: compare the mean ± std over the seeds "
        f"({IN_RUN.leaderboard}), train more seeds or evaluate on more tracks before choosing"
        if changes.winner_changes
        else "",
    )


def _seeds(seeds: list[int]) -> str:
    """``seed 1`` or ``seeds 0, 2``."""
    listed = ", ".join(str(int(s)) for s in seeds)
    return f"seed {listed}" if len(seeds) == 1 else f"seeds {listed}" if seeds else ""
