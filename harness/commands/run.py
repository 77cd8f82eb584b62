"""`fma-harness run` (the whole job), `train MODEL` (one model, same pipeline) and `models`.

Every option defaults to None so that a ``--config run.toml`` value is used unless the command
line gives one; :class:`harness.config.run_config.RunConfig` holds the real defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options

EXIT_MODELS_FAILED = 3  # the run finished, its leaderboard and report exist, a model failed

RUN_EPILOG = """Examples:

  fma-harness run              # synthetic FMA, every model: what `make run` does

  fma-harness run --root ~/fma --subset medium --models mfcc-logreg,crnn

  fma-harness run --config run.toml --seed 1        # CLI options override the file

  fma-harness run --models mfcc-logreg,cnn --seeds 0,1,2   # mean and std over 3 training seeds

  torchrun --nproc_per_node 2 -m harness train crnn --ddp    # one process per GPU

  fma-harness run --test-dir my_clips --answers my_answers.csv   # score your own test folder

  fma-harness run --root ~/gtzan/genres --models mfcc-logreg,cnn   # a folder per label

  fma-harness run --root my_set/manifest.csv        # path,label[,artist,album,split,labels]

Exit codes:

  0  every model trained; leaderboard, submissions and report written

  1  a user error, found before any work (one line on stderr: option, value, what to do)

  2  a usage error (unknown option, a value of the wrong type)

  3  finished, but some models failed: leaderboard and report written, the last line names them
"""

TRAIN_EPILOG = """Examples:

  fma-harness train crnn                     # synthetic FMA: train, calibrate, score, save

  fma-harness train cnn --config cnn.toml    # \\[params.cnn] epochs = 40, preset = "paper"

  torchrun --nproc_per_node 4 -m harness train cnn --ddp --root ~/fma --subset medium

An interrupted neural training resumes from its checkpoint in the cache when run again.

Exit codes: 0 trained, 1 user error before any work, 2 usage error, 3 the model failed
(its row, error.txt and the report are written).
"""

MODELS_EPILOG = """Examples:

  fma-harness models                                # built-ins and installed entry points

  fma-harness run --models mfcc-logreg,my_pkg.tagger:build_model

Register your own model with an entry point of the group fma_harness.models in your package's
pyproject.toml (\\[project.entry-points."fma_harness.models"] my-model =
"my_pkg.tagger:build_model"), or pass a package.module:factory target to --models.
"""

RootOpt = Annotated[
    Path | None, options.root(f"{options.ROOT_HELP} Default: data/synthetic, made if absent.")
]
SubsetOpt = Annotated[str | None, options.subset()]
FormatOpt = Annotated[str | None, options.data_format()]
TaskOpt = Annotated[
    str | None, typer.Option("--task", help="genre_top (single-label) | genres_all")
]
TestDirOpt = Annotated[Path | None, options.test_dir()]
MinDurationOpt = Annotated[float | None, options.min_duration()]
MinGenreCountOpt = Annotated[
    int | None,
    typer.Option(
        "--min-genre-count",
        help="genres_all: drop genres with fewer training tracks than this (default 5).",
    ),
]
AnswersOpt = Annotated[
    Path | None,
    typer.Option(
        "--answers",
        help="Answer key (file_id,genre) of the test folder: submissions are scored against it. "
        "Default: the root's crowdai_fma_test_answers.csv for its own crowdai_fma_test/; "
        "otherwise submissions are validated, not scored.",
    ),
]
SeedOpt = Annotated[int | None, options.seed("Seed for splits, models and bootstrap.")]
SeedsOpt = Annotated[
    str | None,
    typer.Option(
        "--seeds",
        help="Training seeds, comma-separated (e.g. 0,1,2): every model is trained once per "
        "seed on the same data; leaderboard.csv gets the mean and std over them. The first is "
        "the main seed (bundles, submissions, ensemble); --seed stays the data seed.",
    ),
]
OutOpt = Annotated[Path | None, options.out("Parent folder of run directories.")]
CacheDirOpt = Annotated[Path | None, options.cache_dir()]
JobsOpt = Annotated[
    int | None,
    options.n_jobs(
        "Parallel workers (-1 = all cores): feature extraction, and on a CPU the neural models "
        "side by side (1: one at a time)."
    ),
]
SchedulerOpt = Annotated[str | None, options.scheduler()]
QuickOpt = Annotated[
    bool | None,
    typer.Option(
        "--quick/--full",
        help="Neural training schedule: --quick a smoke run (2 epochs), --full each model's "
        "thorough schedule for real comparisons; neither: the fast default (README: presets).",
    ),
]
DeviceOpt = Annotated[str | None, options.device()]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="run.toml with any option.")]
FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        "--features",
        help="audio (extract from the clips) | official (fma_metadata/features.csv, no audio)",
    ),
]
DdpOpt = Annotated[
    bool | None,
    typer.Option(
        "--ddp/--no-ddp",
        help="Train the neural models with DistributedDataParallel: launch with "
        "torchrun --nproc_per_node N -m harness ...",
    ),
]
ResplitOpt = Annotated[bool | None, options.resplit()]
ModelsOpt = Annotated[
    str | None,
    typer.Option(
        "--models",
        help="Comma-separated model names or package.module:factory targets (default: all "
        "built-ins; `fma-harness models` lists them).",
    ),
]
ChecksOpt = Annotated[
    bool | None, typer.Option("--checks/--no-checks", help="Run the data checklist first.")
]
StyleMapOpt = Annotated[
    bool | None,
    typer.Option(
        "--style-map/--no-style-map",
        help="Embed every clip per neural model and MFCC-140, draw their t-SNE style map and "
        "list near-duplicate pairs in the report (default on).",
    ),
]
RobustnessOpt = Annotated[
    bool | None,
    typer.Option(
        "--robustness/--no-robustness",
        help="Re-score every model on the test clips under audio changes (pitch, tempo, noise, "
        "MP3, gain): robustness.csv and a report section (default off; cached).",
    ),
]
RunIdOpt = Annotated[
    str | None, typer.Option("--run-id", help="Name of the run directory (default: time + seed).")
]


def _config(config_file: Path | None, **cli: object):
    from harness.config.run_config import RunConfig, load_config_file

    values = load_config_file(config_file) if config_file else {}
    if cli.get("quick") is False:  # --full: over a run.toml's quick = true too
        cli = {**cli, "quick": False, "preset": "full"}
    values.update({k: v for k, v in cli.items() if v is not None})
    return RunConfig(**values)


def run(
    root: RootOpt = None,
    format: FormatOpt = None,
    subset: SubsetOpt = None,
    task: TaskOpt = None,
    min_genre_count: MinGenreCountOpt = None,
    min_duration: MinDurationOpt = None,
    models: ModelsOpt = None,
    test_dir: TestDirOpt = None,
    answers: AnswersOpt = None,
    config: ConfigOpt = None,
    seed: SeedOpt = None,
    seeds: SeedsOpt = None,
    out: OutOpt = None,
    cache_dir: CacheDirOpt = None,
    n_jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    quick: QuickOpt = None,
    device: DeviceOpt = None,
    resplit: ResplitOpt = None,
    features: FeaturesOpt = None,
    ddp: DdpOpt = None,
    checks: ChecksOpt = None,
    style_map: StyleMapOpt = None,
    robustness: RobustnessOpt = None,
    run_id: RunIdOpt = None,
) -> None:
    """Run everything: data, splits, features, all models, submissions and the report."""
    from harness.run.pipeline import run_pipeline

    # `--models ''` is an empty list (refused by the checks), not "every model"
    model_list = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
    cfg = _config(
        config,
        root=root,
        format=format,
        subset=subset,
        task=task,
        models=model_list,
        test_dir=test_dir,
        answers=answers,
        seed=seed,
        out=out,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        scheduler=scheduler,
        quick=quick,
        device=device,
        resplit=resplit,
        features=features,
        ddp=ddp,
        checks=checks,
        run_id=run_id,
        min_genre_count=min_genre_count,
        min_duration=min_duration,
        style_map=style_map,
        seeds=seed_list(seeds),
        robustness=robustness,
    )
    exit_if_models_failed(run_pipeline(cfg))


def train(
    model: Annotated[str, typer.Argument(help="A registered model, e.g. mfcc-logreg, crnn.")],
    root: RootOpt = None,
    format: FormatOpt = None,
    subset: SubsetOpt = None,
    task: TaskOpt = None,
    min_genre_count: MinGenreCountOpt = None,
    min_duration: MinDurationOpt = None,
    test_dir: TestDirOpt = None,
    answers: AnswersOpt = None,
    config: ConfigOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    cache_dir: CacheDirOpt = None,
    n_jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    quick: QuickOpt = None,
    device: DeviceOpt = None,
    resplit: ResplitOpt = None,
    features: FeaturesOpt = None,
    ddp: DdpOpt = None,
    run_id: RunIdOpt = None,
) -> None:
    """Train one model, calibrate it, score it on validation and test, and save it."""
    from harness.registry import get_entry

    get_entry(model)  # an unknown name fails before anything heavy is imported
    from harness.run.pipeline import run_pipeline

    cfg = _config(
        config,
        root=root,
        format=format,
        subset=subset,
        task=task,
        models=[model],
        test_dir=test_dir,
        answers=answers,
        seed=seed,
        out=out,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        scheduler=scheduler,
        quick=quick,
        device=device,
        resplit=resplit,
        features=features,
        ddp=ddp,
        checks=False,
        run_id=run_id,
        min_genre_count=min_genre_count,
        min_duration=min_duration,
    )
    exit_if_models_failed(run_pipeline(cfg))


def seed_list(text: str | None) -> list[int | str] | None:
    """``--seeds 0,1,2`` as [0, 1, 2]; an item that is not a whole number stays text, for the
    configuration check to name it."""
    if text is None:
        return None
    items = [item.strip() for item in text.split(",") if item.strip()]
    return [int(item) if item.lstrip("-").isdigit() else item for item in items]


def exit_if_models_failed(run_dir: Path | None) -> None:
    """End with a line naming the failed models and exit code 3 when any model failed
    (None, from a stand-in for the pipeline, is a run that reports nothing)."""
    from harness.run.status import failure_summary

    summary = failure_summary(run_dir) if run_dir is not None else None
    if summary:
        typer.secho(summary, fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_MODELS_FAILED)


def list_models() -> None:
    """List every model known by name: the built-ins and those of installed packages.

    Users add models with an entry point of the group fma_harness.models, or pass a
    package.module:factory target to --models of `run` (or as MODEL of `train`).
    """
    from harness.registry import model_entries

    broken: dict[str, str] = {}
    rows = [
        (e.name, e.consumes, e.target, e.summary) for e in model_entries(broken=broken).values()
    ]
    header = ("model", "consumes", "target", "summary")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[3]]))
    for problem in broken.values():  # listed, not fatal: the other models still work
        typer.secho(f"broken: {problem}", fg=typer.colors.YELLOW, err=True)


def register(app: typer.Typer) -> None:
    """Add `run`, `train` and `models` to the CLI."""
    app.command(epilog=RUN_EPILOG)(run)
    app.command(epilog=TRAIN_EPILOG)(train)
    app.command("models", epilog=MODELS_EPILOG)(list_models)
