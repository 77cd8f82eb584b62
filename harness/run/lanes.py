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

The lane processes (:class:`Lanes`, a loky process pool) start with the run, so that they
import torch while the data and features are made. Once the features are there the neural
models go to them, ``threads`` torch threads each, the longest schedules first
(:func:`longest_first`), and this process runs its own stages meanwhile with one thread: the
data checks, the MFCC-140 map and the feature-table models. Each model's sanity checks train
fresh copies of it, so they are tasks of their own: once this process's stages are done, they
go to the lanes as those free up, while the longest training goes on. The models come back as
the same outcomes, in the run's order, as a one-at-a-time run, and the same sanity results. On
one H100 with 16 cores the lanes' start with the run took the default run from 56 s to 46 s
(the main process's stages had run before the lanes started); on the 2-core machine, whose
cores the lanes already fill, the fresh-clone ``make run`` took 126 s twice against 130 s and
125 s before.

A lane trains exactly as a one-at-a-time run would with ``threads`` torch threads, so the
same machine and seed give the same numbers; DDP, ``--n-jobs 1``, another accelerator (MPS)
or a single neural model train one at a time as before. Lanes print plain epoch lines, never
progress bars (two bars would overwrite each other).
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path

import torch

from harness import log
from harness.config.run_config import RunConfig
from harness.data.prepared import PreparedData
from harness.features.extracted import ExtractedFeatures
from harness.registry import neural_settings
from harness.run.model_run import ModelOutcome
from harness.run.model_training import save_sanity, train_one, untrained_sanity
from harness.run.timing import StageTimes
from harness.run_layout import RunLayout
from harness.training import progress, resident
from harness.training.estimator import NeuralClassifier
from harness.training.runtime import resolve_device
from harness.training.sanity import check_finite

# at most this many lanes per allowed core. In two lanes on 2 cores one core idled while the
# longest training finished alone (about 60 s of a 254 s block); the default run's three
# neural models took 206 s in three lanes against 219 s in two (one run each, cached features).
# Two fresh clones back to back that day gave 291 s and 254 s the other way round, with other
# changes between the commits: this machine's swings are as large as the difference.
OVERSUBSCRIBE = 1.5
# native thread pools that joblib limits in its worker processes (see lane_environment)
THREAD_LIMIT_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


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
    neural = [name for name in config.models if config.entry(name).is_neural]
    shared = resolve_device(config.device).type in ("cpu", "cuda") and not config.ddp
    lanes = min(int(allowed * OVERSUBSCRIBE), len(neural)) if shared else 1
    if lanes < 2:
        return LanePlan(lanes=1, threads=0)
    return LanePlan(lanes=lanes, threads=max(allowed // lanes, 1))


class Lanes:
    """The lane processes of a run's neural models (see the module docstring).

    Made at the start of a run, so that each lane imports torch and the training code (and
    creates its CUDA context on a GPU) while this process generates data and extracts features.
    :meth:`start` then sends the neural models to them, and this process goes on with its own
    stages (data checks, the MFCC-140 map, the feature-table models) while they train;
    :meth:`results` waits for them.

    The lanes are a process pool of their own, not joblib's shared one: a joblib call of this
    process meanwhile (decoding clips, say) would otherwise wait for the lanes to finish
    before it could resize that pool.

    Attributes
    ----------
    plan : LanePlan
    names : list of str
        The neural models, longest schedules first (:func:`longest_first`).
    block : str
        The stage that their wall time, and this process's stages alongside, are recorded in.
    """

    def __init__(self, config: RunConfig, plan: LanePlan) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self.plan = plan
        self.names = longest_first(
            config, [name for name in config.models if config.entry(name).is_neural]
        )
        self.block = f"neural models ({plan.lanes} side by side, {plan.threads} thread(s) each)"
        device = resolve_device(config.device)
        self._pool = ProcessPoolExecutor(
            max_workers=plan.lanes,
            env=lane_environment(plan),
            initializer=_warm_up_lane,
            initargs=(str(device),),
        )
        self._pool.submit(os.getpid)  # a first task starts every lane now
        self._trainings: list[Future] = []
        self._inputs: tuple = ()  # start()'s config, data, features and run_dir

    def start(
        self, config: RunConfig, data: PreparedData, features: ExtractedFeatures, run_dir: Path
    ) -> None:
        """Send every neural model of ``config`` to the lanes, longest schedules first (their
        sanity checks follow in :meth:`results`)."""
        log.info(f"Training {', '.join(self.names)}: {self.block}")
        self._inputs = (config, data, features, run_dir)
        self._trainings = [
            self._pool.submit(
                _train_in_lane, config, data, features, run_dir, name, self.plan, log.verbosity()
            )
            for name in self.names
        ]

    @contextlib.contextmanager
    def alongside(self, times: StageTimes) -> Iterator[None]:
        """This process's stages while the lanes train: all recorded within :attr:`block`, and
        with one thread for this process's native thread pools (BLAS, OpenMP) and torch.

        The lanes hold every core but at most one. On one H100 with 16 cores, the
        feature-table models and the lanes' sanity checks took several times longer while
        BLAS ran 16 threads here (the MLP's training 8.3 s instead of 0.4 s).
        """
        from threadpoolctl import threadpool_limits

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with times.block(self.block), threadpool_limits(limits=1):
                yield
        finally:
            torch.set_num_threads(threads)

    def results(self, times: StageTimes) -> dict[str, ModelOutcome]:
        """Wait for every lane's model, and run each one's sanity checks
        (:func:`untrained_sanity`) in the lanes as they free up, while the longer trainings go
        on. The checks go to the model's ``sanity.json`` with ``finite`` of the fitted model
        (none for a model that failed to train); the stages go into ``times`` (inside
        :meth:`alongside`). The lanes then stop."""
        sanity = self._sanity_as_lanes_free_up()
        run_dir = self._inputs[-1]
        outcomes = {}
        for name, training in zip(self.names, self._trainings, strict=True):
            outcome, lane_times = training.result()
            outcomes[name] = outcome
            rows = list(lane_times.rows)
            if outcome.error is None:  # a model that failed gets no sanity checks, as before
                results, sanity_times = sanity[name].result()
                rows += sanity_times.rows
                model_dir = RunLayout(run_dir).model(name).root
                save_sanity(model_dir, [*results, check_finite(outcome.estimator)])
            for row in rows:
                times.add(row["stage"], row["seconds"])
        self._pool.shutdown(wait=True)
        return outcomes

    def _sanity_as_lanes_free_up(self) -> dict[str, Future]:
        """Submit each model's sanity checks once fewer tasks than lanes are running, so that
        they never wait in the pool's own queue: loky's manager thread raises (a KeyError) when
        :meth:`close` kills the lanes while a task waits there."""
        config, data, features, _ = self._inputs
        submitted: dict[str, Future] = {}
        for name in self.names:
            while True:
                busy = [f for f in [*self._trainings, *submitted.values()] if not f.done()]
                if len(busy) < self.plan.lanes:
                    break
                wait(busy, return_when=FIRST_COMPLETED)
            submitted[name] = self._pool.submit(
                _sanity_in_lane, config, data, features, name, self.plan, log.verbosity()
            )
        return submitted

    def close(self) -> None:
        """Stop the lanes at once, whatever they are doing (after a failure elsewhere).

        The tasks not yet handed to a lane are dropped from loky's queue of work ids first:
        with ``kill_workers`` its manager thread forgets every pending task, then reads that
        queue once more and dies on the first id it no longer knows (a KeyError traceback on
        stderr, seen when the lanes were still starting). Their futures still end with
        loky's ShutdownExecutorError."""
        work_ids = getattr(self._pool, "_work_ids", None)
        while work_ids is not None:
            try:
                work_ids.get_nowait()
            except queue.Empty:
                break
        self._pool.shutdown(wait=True, kill_workers=True)


def open_lanes(config: RunConfig) -> Lanes | None:
    """:class:`Lanes` for ``config``'s neural models, or None when :func:`lane_plan` trains
    them one at a time."""
    plan = lane_plan(config)
    return Lanes(config, plan) if plan.lanes > 1 else None


def lane_environment(plan: LanePlan) -> dict[str, str]:
    """Thread limits of the lanes' native libraries (OpenMP, BLAS, numba...): joblib's own rule
    for its worker processes, the cores over the lanes unless this process's environment sets
    them, so that a lane computes as it did in joblib's pool."""
    from joblib import cpu_count

    default = str(max(cpu_count() // plan.lanes, 1))
    env = {var: os.environ.get(var, default) for var in THREAD_LIMIT_VARIABLES}
    env["ENABLE_IPC"] = os.environ.get("ENABLE_IPC", "1")  # TBB's schedulers share the cores
    return env


def train_models(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    times: StageTimes,
    *,
    lanes: Lanes | None = None,
) -> list[ModelOutcome]:
    """:func:`~harness.run.model_training.train_one` for every model of the run, in its
    order.

    With ``lanes`` (already started, inside the caller's ``lanes.alongside(times)``), the
    feature-table models train here while the neural models train in the lanes, and the lanes'
    stages are recorded within the block. Without, every model trains here, one at a time.
    """
    if lanes is None:
        return [train_one(config, data, features, run_dir, name, times) for name in config.models]
    outcomes = {
        name: train_one(config, data, features, run_dir, name, times)
        for name in config.models
        if name not in lanes.names
    }
    outcomes |= lanes.results(times)
    return [outcomes[name] for name in config.models]


def longest_first(config: RunConfig, names: list[str]) -> list[str]:
    """``names`` by decreasing number of training epochs (ties keep their order), so that the
    longest trainings start first and a short one fills the lane that frees up first."""

    def epochs(name: str) -> int:
        settings = neural_settings(
            config.entry(name),
            preset=config.training_preset,
            params=config.params.get(name, {}),
            quick=config.training_preset == "quick",
        )
        return int(settings.get("epochs", NeuralClassifier().epochs))

    return sorted(names, key=lambda name: -epochs(name))


def _warm_up_lane(device: str) -> None:
    """Run by each lane as it starts: this module's imports (torch and the training code) are
    done by now; on a GPU, create the CUDA context too."""
    if torch.device(device).type == "cuda":
        torch.zeros(1, device=device)


def _train_in_lane(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    run_dir: Path,
    name: str,
    plan: LanePlan,
    verbosity: int,
) -> tuple[ModelOutcome, StageTimes]:
    """One model in a lane, its sanity checks left to :func:`_sanity_in_lane`; returns its
    outcome and stage times."""
    _join_lane(plan, verbosity)
    times = StageTimes()
    return train_one(config, data, features, run_dir, name, times, sanity=False), times


def _sanity_in_lane(
    config: RunConfig,
    data: PreparedData,
    features: ExtractedFeatures,
    name: str,
    plan: LanePlan,
    verbosity: int,
) -> tuple[list[dict], StageTimes]:
    """One model's sanity checks in a lane (:func:`untrained_sanity`); returns their results
    and stage time."""
    _join_lane(plan, verbosity)
    times = StageTimes()
    return untrained_sanity(config, data, features, name, times), times


def _join_lane(plan: LanePlan, verbosity: int) -> None:
    """A task's lane settings: the parent's verbosity, ``plan.threads`` torch threads, plain
    progress lines and a share of a GPU's free memory for its log-mels."""
    log.set_verbosity(verbosity)
    progress.lines_only()
    torch.set_num_threads(plan.threads)
    resident.set_free_memory_share(resident.FREE_MEMORY_SHARE / plan.lanes)
