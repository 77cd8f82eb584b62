"""Several training seeds in one run: every model trained once per seed on the same data.

``--seed`` is the data seed: the splits (``--resplit``), the synthetic set a run generates, the
data checks, the run id, and the training seed when ``--seeds`` is not given. ``--seeds 0,1,2``
(``seeds = [0, 1, 2]`` in run.toml) lists the training seeds. The first is the main seed: its
training is exactly a run's single training (``models/<name>/`` with bundles, model-sanity
checks and embeddings, the submissions, the ensemble), so ``--seeds 0`` with ``--seed 0``
(the default) is the run without ``--seeds``. Each further seed trains every model again on the
same prepared data, splits and cached features into ``seeds/seed<k>/models/<name>/`` (fitted
model, ``predictions_<group>.npz``, history): no bundle, sanity checks, embeddings, submission
or ensemble for those, to keep the time down. A neural model's checkpoint key holds its seed
(:func:`harness.run.model_training.checkpoint_dir_for`), so an interrupted seed resumes
only its own training.

With two seeds or more the run also writes ``leaderboard_seeds.csv`` (one row per model and
seed, :func:`seed_table`) and adds to each trained model's leaderboard row the mean and the
standard deviation over the seeds of every metric (:func:`aggregate_seeds`). The leaderboard's
other columns, and its order, stay the main seed's. A single-seed run gets neither, so its
leaderboard is what it was before seeds existed. The ensemble, built once from the main seed's
models, has no seed columns. The report reads these files (:mod:`harness.checks.runs.seeds`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from harness import log
from harness.config.run_config import RunConfig
from harness.data.prepared import PreparedData
from harness.features.extracted import ExtractedFeatures
from harness.run.manifest import write_csv_atomic
from harness.run.model_run import ModelOutcome
from harness.run.model_training import fit_resumable
from harness.run.timing import StageTimes
from harness.run_layout import RunLayout

METRIC_PREFIXES = ("val_", "test_")  # the leaderboard columns that are scores


def training_seeds(config: RunConfig) -> list[int]:
    """The seeds every model is trained with, the main seed first."""
    return list(config.seeds) if config.seeds else [config.seed]


def main_seed_config(config: RunConfig) -> RunConfig:
    """``config`` training with the main seed (``config`` itself without ``--seeds``)."""
    main = training_seeds(config)[0]
    return config if main == config.seed else dataclasses.replace(config, seed=main)


def seed_record(config: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``seeds``: the data seed, and the training seeds when ``--seeds`` was
    given (a run without it trains with ``seed``)."""
    record: dict[str, Any] = {"seed": config["seed"]}
    if config.get("seeds"):
        record["training_seeds"] = list(config["seeds"])
    return record


def train_further_seeds(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    outcomes: list[ModelOutcome],
    times: StageTimes,
) -> pd.DataFrame | None:
    """Train every model on each seed after the main one, write ``leaderboard_seeds.csv`` and
    add the mean and std over the seeds to the rows of ``outcomes`` (the main seed's).

    Returns the per-seed table, or None for a single-seed run (nothing is written).
    """
    seeds = training_seeds(config)
    if len(seeds) < 2:
        return None
    rows = {seeds[0]: [outcome.row for outcome in outcomes]}
    for seed in seeds[1:]:
        seed_config = dataclasses.replace(config, seed=seed)
        models_dir = RunLayout(Path(run_dir)).seed_run(seed).models_dir
        rows[seed] = [
            train_seed_model(seed_config, data, features, models_dir, name, times).row
            for name in config.models
        ]
    table = seed_table(rows)
    write_csv_atomic(table, RunLayout(Path(run_dir)).seed_table)
    aggregated = aggregate_seeds(table)
    for outcome in outcomes:
        if outcome.name in aggregated.index:
            outcome.row.update(aggregated.loc[outcome.name].to_dict())
    return table


def train_seed_model(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    models_dir: Path,
    name: str,
    times: StageTimes,
) -> ModelOutcome:
    """Fit, score and save ``name`` with ``config.seed`` into ``models_dir/<name>`` (no
    bundle); ``times`` receives ``seed <k>: <name>: train`` and ``... predict``."""
    seed = config.seed
    log.info(f"Training {name} (seed {seed}) ...")
    outcome = fit_resumable(
        config,
        data,
        features,
        name,
        out_dir=models_dir / name,
        times=times,
        shown=f"{name} (seed {seed})",
        stage=f"seed {seed}: {name}",
        bundle=False,
    )
    loss = outcome.row.get("val_log_loss")
    headline = f"  val log loss {loss:.4f}" if isinstance(loss, float) else ""
    log.info(f"  {name} (seed {seed}): {outcome.row.get('status')}{headline}")
    return outcome


def seed_table(rows: dict[int, list[dict[str, Any]]]) -> pd.DataFrame:
    """One row per model and seed: ``model``, ``seed``, ``status`` and every metric column
    (``val_*``, ``test_*``) of the models' leaderboard rows, seeds in the given order.

    Parameters
    ----------
    rows : dict
        seed -> the leaderboard rows (dicts with ``model`` and ``status``) trained with it.
    """
    records = [
        {
            "model": row["model"],
            "seed": seed,
            "status": row.get("status"),
            **{k: v for k, v in row.items() if k.startswith(METRIC_PREFIXES)},
        }
        for seed, seed_rows in rows.items()
        for row in seed_rows
    ]
    return pd.DataFrame(records)


def aggregate_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (index, in table order): ``<metric>_mean`` and ``<metric>_std`` over the
    seeds it trained on without failing, and ``n_seeds``, their number.

    The std is the sample standard deviation (``ddof=1``, pandas' default): NaN for one seed.
    Both are rounded to 4 decimals, as the leaderboard's scores are.
    """
    metric_columns = [c for c in table.columns if c.startswith(METRIC_PREFIXES)]
    ok = table[table["status"] == "ok"]
    grouped = ok.groupby("model", sort=False)[metric_columns]
    mean, std = grouped.mean().round(4), grouped.std().round(4)
    columns = {}
    for metric in metric_columns:
        columns[f"{metric}_mean"] = mean[metric]
        columns[f"{metric}_std"] = std[metric]
    frame = pd.DataFrame(columns, index=mean.index)
    frame["n_seeds"] = ok.groupby("model", sort=False).size()
    models = list(dict.fromkeys(table["model"]))
    frame = frame.reindex(models)
    frame["n_seeds"] = frame["n_seeds"].fillna(0).astype(int)
    return frame
