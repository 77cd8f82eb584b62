"""Train a run's neural models side by side on a multi-core CPU or one GPU, one process
("lane") each.

Small convolutions and a GRU's sequential steps leave much of a second core idle when one
model trains with two torch threads; two models training at once, one thread each, keep both
cores busy. On the 2-core development machine the default run's neural models (training,
sanity checks, embeddings) took 203 s side by side against 248 s one at a time, and the whole
run on cached features 220 s against 269 s; ``benchmarks/lanes.py`` measures each pair of
models (from 0.96x to 1.40x the work per second in one run: the gain depends on the pair).
The default set's small models leave a GPU mostly idle too: on one H100 with 16 cores their
training, sanity checks and embeddings took 22.1 s side by side against 33.7 s one at a time.

The feature-table models, quick to fit, train first in this process; the neural models then
train in ``lanes`` worker processes (joblib's loky) with ``threads`` torch threads each, the
longest schedules first (:func:`longest_first`), and come back as the same outcomes, in the
run's order, as a one-at-a-time run.

A lane trains exactly as a one-at-a-time run would with ``threads`` torch threads, so the
same machine and seed give the same numbers; DDP, ``--n-jobs 1``, another accelerator (MPS)
or a single neural model train one at a time as before. Lanes print plain epoch lines, never
progress bars (two bars would overwrite each other).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from harness import log
from harness.data.prepared import PreparedData
from harness.features.extracted import ExtractedFeatures
from harness.pipeline.config import RunConfig
from harness.pipeline.model_inputs import neural_settings
from harness.pipeline.model_run import ModelOutcome
from harness.pipeline.model_training import train_one
from harness.pipeline.timing import StageTimes
from harness.registry import get_entry
from harness.training import progress, resident
from harness.training.estimator import NeuralClassifier
from harness.training.runtime import resolve_device

# at most this many lanes per allowed core. In two lanes on 2 cores one core idled while the
# longest training finished alone (about 60 s of a 254 s block); the default run's three
# neural models took 206 s in three lanes against 219 s in two (one run each, cached features).
# Two fresh clones back to back that day gave 291 s and 254 s the other way round, with other
# changes between the commits: this machine's swings are as large as the difference.
OVERSUBSCRIBE = 1.5


@dataclass(frozen=True)
class LanePlan:
    """How the neural models train: ``lanes`` processes of ``threads`` torch threads each
    (``lanes == 1``: one at a time in this process, with torch's own thread count)."""

    lanes: int
    threads: int


def lane_plan(config: RunConfig, *, cores: int | None = None) -> LanePlan:
    """Side by side when the neural models train on the CPU or one GPU of one machine (not
    DDP), several of them, with more than one core allowed (``--n-jobs``: -1 every core, else
    at most that many).

    Up to half as many lanes again as cores (:data:`OVERSUBSCRIBE`): trainings of unequal
    length leave a core idle once the shorter ones finish, unless a third lane shares the cores
    meanwhile."""
    cores = cores or os.cpu_count() or 1
    allowed = cores if config.n_jobs < 0 else min(config.n_jobs, cores)
    neural = [name for name in config.models if get_entry(name).is_neural]
    shared = resolve_device(config.device).type in ("cpu", "cuda") and not config.ddp
    lanes = min(int(allowed * OVERSUBSCRIBE), len(neural)) if shared else 1
    if lanes < 2:
        return LanePlan(lanes=1, threads=0)
    return LanePlan(lanes=lanes, threads=max(allowed // lanes, 1))


def train_models(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    times: StageTimes,
) -> list[ModelOutcome]:
    """:func:`~harness.pipeline.model_training.train_one` for every model of the run, in its
    order; the neural models side by side when :func:`lane_plan` allows.

    Side by side, ``times`` receives one stage "neural models (N side by side)" with the wall
    time of them all, and each model's own stages marked as within it.
    """
    plan = lane_plan(config)
    if plan.lanes == 1:
        return [train_one(config, data, features, run_dir, name, times) for name in config.models]
    from joblib import Parallel, delayed

    neural = longest_first(config, [name for name in config.models if get_entry(name).is_neural])
    outcomes = {
        name: train_one(config, data, features, run_dir, name, times)
        for name in config.models
        if name not in neural
    }
    block = f"neural models ({plan.lanes} side by side, {plan.threads} thread(s) each)"
    log.info(f"Training {', '.join(neural)}: {block}")
    started = time.perf_counter()
    results = Parallel(n_jobs=plan.lanes, backend="loky")(
        delayed(_train_in_lane)(config, data, features, run_dir, name, plan, log.verbosity())
        for name in neural
    )
    times.add(block, time.perf_counter() - started)
    for name, (outcome, lane_times) in zip(neural, results, strict=True):
        outcomes[name] = outcome
        for row in lane_times.rows:
            times.add(row["stage"], row["seconds"], within=block)
    return [outcomes[name] for name in config.models]


def longest_first(config: RunConfig, names: list[str]) -> list[str]:
    """``names`` by decreasing number of training epochs (ties keep their order), so that the
    longest trainings start first and a short one fills the lane that frees up first."""

    def epochs(name: str) -> int:
        settings = neural_settings(
            get_entry(name),
            preset=config.training_preset,
            params=config.params.get(name, {}),
            quick=config.quick,
        )
        return int(settings.get("epochs", NeuralClassifier().epochs))

    return sorted(names, key=lambda name: -epochs(name))


def _train_in_lane(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    name: str,
    plan: LanePlan,
    verbosity: int,
) -> tuple[ModelOutcome, StageTimes]:
    """One model in a worker process: the parent's verbosity, ``plan.threads`` torch threads,
    plain progress lines and a share of a GPU's free memory for its log-mels; returns its
    outcome and stage times."""
    log.set_verbosity(verbosity)
    progress.lines_only()
    torch.set_num_threads(plan.threads)
    resident.set_free_memory_share(resident.FREE_MEMORY_SHARE / plan.lanes)
    times = StageTimes()
    return train_one(config, data, features, run_dir, name, times), times
