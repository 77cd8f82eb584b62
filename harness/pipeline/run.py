"""The main job: synthetic data (if needed) -> splits -> features -> every model -> report.

``run_pipeline(RunConfig())`` is what ``fma-harness run`` and ``make run`` execute. It writes
``runs/<run-id>/`` (manifest, leaderboard, fitted models, predictions, checks, report) and one
challenge submission per model in ``submissions/<run-id>/``. Every stage reuses its cache, so a
second run with the same seed redoes no feature work and prints the same numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from harness.data.layout import (
    DEFAULT_CACHE_DIR,
    DEFAULT_RUNS_DIR,
    DEFAULT_SUBMISSIONS_DIR,
    DEFAULT_SYNTH_ROOT,
    FmaLayout,
)
from harness.data.prepared import (
    CHALLENGE_GROUP,
    PreparedData,
    decode_config_for,
    default_test_dir,
    prepare,
)
from harness.errors import DataError, ParameterError
from harness.pipeline.manifest import build_manifest, utc_now, write_json_atomic
from harness.pipeline.model_run import FeatureStore, FitOptions, ModelOutcome, fit_model, run_model
from harness.pipeline.outputs import (
    data_checksums,
    write_leaderboard,
    write_splits,
    write_submissions,
)
from harness.registry import get_entry, names
from harness.training import distributed as hdist

T = TypeVar("T")
FEATURE_SOURCES = ("audio", "official")
SANITY_SHUFFLED_EPOCHS = 4  # shuffled-label training: enough to show it stays at chance
SANITY_CLIPS = 192  # training clips the sanity checks sample (half as many validation clips)
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


@dataclass
class RunConfig:
    """Every option of a run; the CLI and a ``--config run.toml`` file fill it."""

    root: Path | None = None  # None: the synthetic set at DEFAULT_SYNTH_ROOT, generated if absent
    subset: str = "small"
    task: str = "genre_top"
    models: list[str] = field(default_factory=lambda: names())
    test_dir: Path | None = None  # None: the root's crowdai_fma_test/ when it exists
    seed: int = 0
    out: Path = DEFAULT_RUNS_DIR
    submissions_dir: Path = DEFAULT_SUBMISSIONS_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    features: str = (
        "audio"  # "audio": extract from the clips; "official": fma_metadata/features.csv
    )
    scheduler: str | None = None
    n_jobs: int = -1
    resplit: bool = False
    device: str = "auto"
    quick: bool = False
    checks: bool = True
    run_id: str | None = None
    # per-model estimator settings, e.g. {"crnn": {"epochs": 30}} ([params.crnn] in run.toml)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    ddp: bool = False  # neural models with DistributedDataParallel, under torchrun

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a ``run.toml`` into RunConfig keyword arguments (unknown keys are an error)."""
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML ({exc})") from exc
    known = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ParameterError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    path_fields = {"root", "test_dir", "out", "submissions_dir", "cache_dir"}
    return {k: (Path(v) if k in path_fields and v is not None else v) for k, v in raw.items()}


def ensure_dataset(config: RunConfig) -> Path:
    """The FMA root to use, generating the synthetic default set when none is given."""
    if config.root is not None:
        return Path(config.root)
    root = DEFAULT_SYNTH_ROOT
    if not FmaLayout(root).tracks_csv.exists():
        from harness.data.synth.generate import SynthConfig, generate

        print(f"No dataset given: generating the synthetic FMA in {root} ...")
        summary = generate(SynthConfig(root=root, seed=config.seed), n_jobs=config.n_jobs)
        faults = ", ".join(f"{n} {kind}" for kind, n in summary.faults.items())
        print(
            f"  {summary.n_audio} clips + {summary.n_test} challenge clips in "
            f"{summary.seconds:.0f} s; planted faults: {faults}"
        )
    return root


def official_feature_store(data: PreparedData) -> FeatureStore:
    """MFCC-140 from the official features.csv: no audio, every listed track ``ok``."""
    from harness import features as feats

    if not data.layout.features_csv.exists():
        raise DataError(
            f"{data.layout.features_csv}: not found; --features official needs the features.csv "
            "of fma_metadata.zip (a synthetic set has none: use --features audio)"
        )
    table = feats.official_features(data.layout.features_csv, feature_set="mfcc")
    table = table.reindex(data.clips.index)
    usable = np.isfinite(table.to_numpy()).all(axis=1)
    status = pd.DataFrame(
        {"group": data.clips["group"], "status": np.where(usable, "ok", "missing")},
        index=data.clips.index,
    )
    return FeatureStore(status=status, cache_dir=Path("."), logmel=None, table=table)


def extract_features(config: RunConfig, data: PreparedData) -> FeatureStore:
    """Run (or reuse) the feature cache for every clip the models need."""
    from harness import features as feats

    if config.features == "official":
        return official_feature_store(data)

    need_logmel = any(get_entry(m).kind == "neural" for m in config.models)
    sets = ("mfcc", "logmel") if need_logmel else ("mfcc",)
    logmel = feats.LogMelConfig()
    decode = decode_config_for(data.layout.root)
    status = feats.extract(
        data.clips,
        cache_dir=config.cache_dir,
        feature_sets=sets,
        logmel=logmel,
        decode=decode,
        n_jobs=config.n_jobs,
        scheduler=config.scheduler,
    )
    return FeatureStore(
        status=status, cache_dir=Path(config.cache_dir), logmel=logmel, decode=decode
    )


def new_run_id(config: RunConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return config.run_id or f"{stamp}-seed{config.seed}"


def check_config(config: RunConfig) -> None:
    """Refuse an inconsistent configuration before any work is done."""
    for name in config.models:
        get_entry(name)  # unknown names fail before any work
    for name, params in config.params.items():
        get_entry(name)
        if not isinstance(params, dict):
            raise ParameterError(
                f"params.{name} must be a table of settings (e.g. [params.{name}] epochs = 20), "
                f"got {params!r}"
            )
    if config.features not in FEATURE_SOURCES:
        raise ParameterError(f"features '{config.features}' is not one of {FEATURE_SOURCES}")
    neural = [m for m in config.models if get_entry(m).kind == "neural"]
    if config.features == "official" and neural:
        raise ParameterError(
            "neural models need audio (log-mel); drop them from --models or use --features audio"
        )
    if config.ddp and len(neural) != len(config.models):
        baselines = sorted(set(config.models) - set(neural))
        raise ParameterError(
            f"--ddp trains neural models only; drop {', '.join(baselines)} from --models"
        )


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
    official = config.features == "official"
    started = utc_now()
    root = main_rank_first(info, lambda: ensure_dataset(config))
    test_dir = config.test_dir
    if test_dir is None and not official:
        test_dir = default_test_dir(root)
    data = prepare(
        root=root,
        subset=config.subset,
        task=config.task,
        resplit=config.resplit,
        seed=config.seed,
        test_dir=test_dir,
        require_audio=not official,
    )
    run_id = hdist.broadcast_object(new_run_id(config))
    # before the run directory: a failure leaves none
    features = main_rank_first(info, lambda: extract_features(config, data))
    run_dir = Path(config.out) / run_id
    if not info.is_main:  # the other ranks only take part in the training
        for name in config.models:
            fit_model(name, data, features, options=fit_options(config, data, features, name))
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"Run directory: {run_dir}")
    write_splits(data, run_dir / "splits.csv")
    features.status.to_csv(run_dir / "decode_status.csv")
    if config.checks and not official:  # the data checks decode audio
        run_data_checks_into(run_dir, data, features, seed=config.seed)
    outcomes = [train_one(config, data, features, run_dir, name) for name in config.models]
    submission_dir = Path(config.submissions_dir) / run_dir.name
    if len(data.keys(CHALLENGE_GROUP)) and config.task == "genre_top":
        write_submissions(data, outcomes, submission_dir=submission_dir)
    leaderboard = write_leaderboard(run_dir, outcomes)
    write_json_atomic(
        run_dir / "manifest.json",
        build_manifest(
            config=config.to_dict() | {"resolved_root": str(root), "test_dir": str(test_dir)},
            seeds={"seed": config.seed},
            data_checksums=data_checksums(data, run_dir),
            cache_keys=cache_keys(features),
            started=started,
        ),
    )
    render_report(run_dir)
    print_leaderboard(leaderboard, run_dir=run_dir, submission_dir=submission_dir)
    return run_dir


def main_rank_first(info: hdist.DistInfo, work: Callable[[], T]) -> T:
    """Run ``work`` on rank 0, then on the other ranks (which then find it cached or done)."""
    if info.is_main:
        result = work()
        hdist.barrier()
        return result
    hdist.barrier()
    return work()


def fit_options(
    config: RunConfig, data: PreparedData, features: FeatureStore, name: str
) -> FitOptions:
    """How ``name`` is fitted in this run; neural models checkpoint into the cache."""
    params = config.params.get(name, {})
    checkpoint_dir = None
    if get_entry(name).kind == "neural":
        checkpoint_dir = checkpoint_dir_for(config, data, features, name)
    return FitOptions(seed=config.seed, quick=config.quick, device=config.device,
                      params=params, ddp=config.ddp, checkpoint_dir=checkpoint_dir)  # fmt: skip


def checkpoint_dir_for(
    config: RunConfig, data: PreparedData, features: FeatureStore, name: str
) -> Path:
    """``<cache>/checkpoints/<name>-<key>``: the key covers everything the training depends on
    (settings, seed, clips of each split, log-mel cache), so only the same training resumes."""
    from harness.pipeline.model_run import NEURAL_DEFAULTS

    identity = {
        "model": name,
        "task": config.task,
        "seed": config.seed,
        "quick": config.quick,
        "defaults": NEURAL_DEFAULTS.get(name, {}),
        "params": config.params.get(name, {}),
        "features": cache_keys(features),
        "training": [str(k) for k in data.keys("training")],
        "validation": [str(k) for k in data.keys("validation")],
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return (
        Path(config.cache_dir) / "checkpoints" / f"{name}-{hashlib.sha256(blob).hexdigest()[:12]}"
    )


def train_one(
    config: RunConfig, data: PreparedData, features: FeatureStore, run_dir: Path, name: str
) -> ModelOutcome:
    """Fit, score and save one model; a neural model resumes an interrupted training."""
    from harness.training.steps import CHECKPOINT_NAME

    print(f"Training {name} ...")
    options = fit_options(config, data, features, name)
    checkpoint = options.checkpoint_dir / CHECKPOINT_NAME if options.checkpoint_dir else None
    if checkpoint is not None and checkpoint.exists():
        print(f"  resuming {name} from {checkpoint} (delete it to start over)")
    outcome = run_model(name, data, features, out_dir=run_dir / "models" / name, options=options)
    if outcome.error is None and checkpoint is not None:  # finished: nothing left to resume
        shutil.rmtree(checkpoint.parent, ignore_errors=True)
    if outcome.error is None and get_entry(name).kind == "neural":
        write_model_sanity(
            run_dir / "models" / name, outcome, data, features, quick=config.quick, seed=config.seed
        )
    print(f"  {name}: {outcome.row.get('status')}  val log loss {outcome.row.get('val_log_loss')}")
    return outcome


def run_data_checks_into(
    run_dir: Path, data: PreparedData, features: FeatureStore, *, seed: int
) -> None:
    """Run the data families of the checklist and store them as ``checks.json``."""
    from harness.checks.runner import run_data_checks

    results = run_data_checks(data=data, features=features, seed=seed)
    write_json_atomic(run_dir / "checks.json", [r.to_dict() for r in results])


def write_model_sanity(
    model_dir: Path,
    outcome: ModelOutcome,
    data: PreparedData,
    features: FeatureStore,
    *,
    quick: bool,
    seed: int,
) -> None:
    """Quick model-sanity checks of a fitted neural model (``sanity.json``).

    They train small copies of the model (one batch, shuffled labels), so they run on a seeded
    sample of at most ``SANITY_CLIPS`` training and validation clips, read into memory once:
    their cost stays the same on fma_medium as on the synthetic set.
    """
    from harness.pipeline.model_run import group_inputs, targets, usable_keys
    from harness.training.sanity import run_sanity_checks

    rng = np.random.default_rng(seed)
    inputs = {}
    for group, limit in (("training", SANITY_CLIPS), ("validation", SANITY_CLIPS // 2)):
        keys = usable_keys(data, features, group)
        if len(keys) > limit:
            keys = keys[np.sort(rng.choice(len(keys), size=limit, replace=False))]
        lazy = group_inputs(data, features, group, kind="neural", keys=keys)
        inputs[group] = (np.stack([lazy[i] for i in range(len(keys))]), targets(data, keys))
    (X, y), (X_val, y_val) = inputs["training"], inputs["validation"]
    results = run_sanity_checks(
        outcome.estimator, X, y, X_val, y_val,
        shuffled_epochs=2 if quick else SANITY_SHUFFLED_EPOCHS,
    )  # fmt: skip
    write_json_atomic(model_dir / "sanity.json", results)


def cache_keys(features: FeatureStore) -> dict[str, str]:
    """The feature cache keys the run read (one per feature set)."""
    from harness import features as feats

    if features.table is not None:
        return {"mfcc": "official features.csv"}

    return feats.cache_keys(features.cache_dir, logmel=features.logmel)


def render_report(run_dir: Path) -> None:
    """Write ``report.md`` and ``report.html`` for the run."""
    from harness.report.markdown import render_run
    from harness.scoring.metrics.single import DegenerateInputWarning

    with warnings.catch_warnings():  # classes absent from a split are a label check finding
        warnings.simplefilter("ignore", DegenerateInputWarning)
        render_run(run_dir)


def print_leaderboard(frame: pd.DataFrame, *, run_dir: Path, submission_dir: Path) -> None:
    """Print the leaderboard as a rich table and say where everything went."""
    from rich.console import Console
    from rich.table import Table

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
