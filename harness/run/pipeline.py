"""The main job: synthetic data (if needed) -> splits -> features -> every model -> report.

``run_pipeline(RunConfig())`` is what ``fma-harness run`` and ``make run`` execute. It writes
``runs/<run-id>/`` (manifest, leaderboard, fitted models, predictions, checks, report) and one
challenge submission per model in ``submissions/<run-id>/``. Every stage reuses its cache, so a
second run with the same seed redoes no feature work and prints the same numbers.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness import log
from harness.checks.runner import run_data_checks
from harness.config.run_config import RunConfig, check_config
from harness.data.catalogue import split_gaps
from harness.data.formats import detect_format, load_dataset
from harness.data.label_fixes import apply_label_fixes
from harness.data.layout import DEFAULT_SYNTH_ROOT, FmaLayout
from harness.data.prepared import CHALLENGE_GROUP, PreparedData, default_test_dir
from harness.data.synth.generate import SynthConfig, generate
from harness.errors import DataError
from harness.features.extracted import ExtractedFeatures
from harness.features.worker import warm_up_in_background
from harness.run.embeddings import mfcc_embedding_stage
from harness.run.ensemble import add_ensemble
from harness.run.extraction import cache_keys, extract_features, feature_sets_for
from harness.run.lanes import Lanes, open_lanes, train_models
from harness.run.manifest import build_manifest, utc_now
from harness.run.model_run import fit_model
from harness.run.model_training import fit_options
from harness.run.outputs import (
    data_checksums,
    print_leaderboard,
    render_report,
    write_leaderboard,
    write_splits,
    write_submissions,
)
from harness.run.robustness import robustness_stage
from harness.run.seeds import main_seed_config, seed_record, train_further_seeds
from harness.run.timing import StageTimes, format_table
from harness.run_layout import RunLayout, SubmissionLayout
from harness.storage import write_json_atomic
from harness.training import distributed as hdist

T = TypeVar("T")
# The set `run` generates when given no --root: `data synth`'s 400 tracks and 80 challenge clips
# in FMA's layout, with clips of 10 s instead of FMA's 30 s, so that generating, decoding and
# featurising take a third of the time (the neural models train on crops of 3 to 4 s either
# way). A smaller set (320 tracks, 40 challenge clips) left a 27-track test split on which
# mfcc-logreg's macro F1 beat every neural model's: too few tracks to compare on.
DEMO_SET = {"duration": 10.0}


def ensure_dataset(config: RunConfig) -> Path:
    """The FMA root to use, generating the synthetic default set when none is given."""
    if config.root is not None:
        return Path(config.root)
    root = DEFAULT_SYNTH_ROOT
    if not FmaLayout(root).tracks_csv.exists():
        log.info(f"No dataset given: generating the synthetic FMA in {root} ...")
        demo = SynthConfig(root=root, seed=config.seed, **DEMO_SET)
        # librosa's numba kernels compile on one core (about 25 s on a fresh install, 1 s from
        # numba's cache): let that overlap the generation's worker processes
        compiling = warm_up_in_background(feature_sets_for(config))
        summary = generate(demo, n_jobs=config.n_jobs)
        compiling.join()
        faults = ", ".join(f"{n} {kind}" for kind, n in summary.faults.items())
        log.info(
            f"  {summary.n_audio} clips + {summary.n_test} challenge clips in "
            f"{summary.seconds:.0f} s; planted faults: {faults}"
        )
    return root


def require_training_splits(data: PreparedData) -> None:
    """Refuse, before any clip is decoded, a split without training or validation clips (a
    small collection split automatically, or a manifest's own split column)."""
    gaps = split_gaps(data.splits, where=data.index_file or data.layout.root)
    for name in ("training", "validation"):
        if name in gaps:
            raise DataError(gaps[name])


def new_run_id(config: RunConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return config.run_id or f"{stamp}-seed{config.seed}"


def run_pipeline(config: RunConfig) -> Path:
    """Execute the whole job and return the run directory.

    With ``config.ddp`` (under ``torchrun``) every rank runs this: rank 0 generates data and
    extracts features while the others wait, every rank trains, and rank 0 alone writes.
    """
    check_config(config)
    if not config.ddp:
        return _run_pipeline(config, hdist.DistInfo())
    info = hdist.init_distributed()
    # On failure the rank leaves without the collective teardown (torchrun then stops its
    # peers; a destroy while they wait in a collective can hang). On success the ranks leave
    # together: rank 0 still writes after the others finish training, and a rank that tore
    # gloo down meanwhile aborted at exit once in CI (SIGABRT, "terminate called without an
    # active exception").
    run_dir = _run_pipeline(config, info)
    hdist.barrier()
    hdist.shutdown()
    return run_dir


def _run_pipeline(config: RunConfig, info: hdist.DistInfo) -> Path:
    main = main_seed_config(config)  # --seeds: the first; each further one in train_further_seeds
    # the lane processes start now: they import torch while the data and features are made
    lanes = open_lanes(main)
    try:
        return _run_stages(config, main, info, lanes)
    finally:
        if lanes is not None:
            lanes.close()


def _run_stages(
    config: RunConfig, main: RunConfig, info: hdist.DistInfo, lanes: Lanes | None
) -> Path:
    official = config.features == "official"
    started = utc_now()
    times = StageTimes()
    with times.stage("data"):
        root = main_rank_first(info, lambda: ensure_dataset(config))
        test_dir = config.test_dir
        fma_root = detect_format(root, format=config.format) == "fma"
        if test_dir is None and not official and fma_root:
            test_dir = default_test_dir(root)
        data = load_dataset(
            root=root,
            format=config.format,
            subset=config.subset,
            task=config.task,
            resplit=config.resplit,
            seed=config.seed,
            test_dir=test_dir,
            require_audio=not official,
            min_genre_count=config.min_genre_count,
        )
        if config.label_fixes is not None:
            data = apply_label_fixes(data, config.label_fixes)
        require_training_splits(data)
    run_id = hdist.broadcast_object(new_run_id(config))
    # before the run directory: a failure leaves none
    with times.stage("features"):
        features = main_rank_first(info, lambda: extract_features(config, data))
    run_dir = Path(config.out) / run_id
    if not info.is_main:  # the other ranks only take part in the training
        for name in config.models:
            fit_model(name, data, features, options=fit_options(config, data, features, name))
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    log.info(f"Run directory: {run_dir}")
    log.detail(f"Configuration: {config.to_dict()}")
    log.detail(f"Feature cache: {cache_keys(features)}")
    layout = RunLayout(run_dir)
    write_splits(data, layout.splits)
    features.status.to_csv(layout.decode_status)
    if lanes is not None:  # the neural models train meanwhile
        lanes.start(main, data, features, run_dir)
    with lanes.alongside(times) if lanes is not None else contextlib.nullcontext():
        if config.checks and not official:  # the data checks decode audio
            with times.stage("data checks"):
                run_data_checks_into(run_dir, data, features, seed=config.seed)
        mfcc_embedding_stage(config, run_dir, data, features, times)
        outcomes = train_models(main, data, features, run_dir, times, lanes=lanes)
    train_further_seeds(config, data, features, run_dir, outcomes, times)
    outcomes += add_ensemble(data, features, outcomes, run_dir=run_dir, times=times)
    if config.robustness:
        with times.stage("robustness"):
            robustness_stage(config, run_dir, data, features, outcomes)
    submission_dir = SubmissionLayout(Path(config.submissions_dir)).run(run_dir.name).root
    answers = answer_key(config, root, test_dir)
    with times.stage("submissions and leaderboard"):
        if len(data.keys(CHALLENGE_GROUP)) and config.task == "genre_top":
            # a submission that fails is a note in its model's row: the leaderboard still follows
            write_submissions(data, outcomes, submission_dir=submission_dir, answers=answers)
        leaderboard = write_leaderboard(run_dir, outcomes)
    # absolute: `compare` tells runs of one dataset from runs of two by these
    resolved = {
        "resolved_root": os.path.abspath(root),
        "resolved_format": "fma" if fma_root else data.subset,
        "test_dir": os.path.abspath(test_dir) if test_dir is not None else None,
        "answer_key": os.path.abspath(answers) if answers else None,
    }

    def manifest() -> None:
        write_manifest(
            run_dir,
            config.to_dict() | resolved,
            data,
            features,
            started=started,
            stage_seconds=times.table(),
        )

    manifest()  # the report reads it: its table covers every stage up to the report
    with times.stage("report"):
        render_report(run_dir, n_jobs=config.n_jobs)
    manifest()  # and now with the report's own time
    print_leaderboard(leaderboard, run_dir=run_dir, submission_dir=submission_dir)
    log.info(f"Where the time went (wall clock; also in {layout.manifest.name} and the report):")
    log.info(format_table(times.table()))
    return run_dir


def write_manifest(
    run_dir: Path,
    config: dict,
    data: PreparedData,
    features: ExtractedFeatures,
    *,
    started: str,
    stage_seconds: list[dict] | None = None,
) -> None:
    """``manifest.json``: the resolved configuration, seeds, data checksums, cache keys and
    the stage timing table (:meth:`harness.run.timing.StageTimes.table`)."""
    manifest = build_manifest(
        config=config,
        seeds=seed_record(config),
        data_checksums=data_checksums(data, run_dir),
        cache_keys=cache_keys(features),
        started=started,
    )
    stages = {"stage_seconds": stage_seconds or []}
    if data.label_fixes is not None:
        stages["label_fixes"] = data.label_fixes
    write_json_atomic(RunLayout(run_dir).manifest, manifest | stages)


def answer_key(config: RunConfig, root: Path, test_dir: Path | None) -> Path | None:
    """The answer key the run's submissions are scored against, or None (validated only).

    ``--answers`` when given; otherwise the root's ``crowdai_fma_test_answers.csv`` (the
    synthetic set's) only when the test folder is the root's own ``crowdai_fma_test/``: the
    key of one folder never scores the clips of another.
    """
    if config.answers is not None:
        return Path(config.answers)
    layout = FmaLayout(root)
    if test_dir is None or not layout.answers_csv.is_file():
        return None
    return layout.answers_csv if same_folder(test_dir, layout.test_dir) else None


def same_folder(a: Path, b: Path) -> bool:
    """True when both paths name the same existing folder."""
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def main_rank_first(info: hdist.DistInfo, work: Callable[[], T]) -> T:
    """Run ``work`` on rank 0, then on the other ranks (which then find it cached or done)."""
    if info.is_main:
        result = work()
        hdist.barrier()
        return result
    hdist.barrier()
    return work()


def run_data_checks_into(
    run_dir: Path, data: PreparedData, features: ExtractedFeatures, *, seed: int
) -> None:
    """Run the data families of the checklist and store them as ``checks.json``."""
    results = run_data_checks(data=data, features=features, seed=seed)
    write_json_atomic(RunLayout(run_dir).checks, [r.to_dict() for r in results])
