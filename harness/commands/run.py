"""`fma-harness run` (the whole job), `train MODEL` (one model, same pipeline) and `models`.

Every option defaults to None so that a ``--config run.toml`` value is used unless the command
line gives one; :class:`harness.config.schema.RunConfig` holds the real defaults and each
option's help, and the options reach it by field name, in one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options
from harness.config.schema import help_of

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

RootOpt = Annotated[Path | None, options.root(help_of("root"))]
SubsetOpt = Annotated[str | None, options.subset()]
FormatOpt = Annotated[str | None, options.data_format()]
TaskOpt = Annotated[str | None, typer.Option("--task", help=help_of("task"))]
TestDirOpt = Annotated[Path | None, options.test_dir()]
MinDurationOpt = Annotated[float | None, options.min_duration()]
MinGenreCountOpt = Annotated[
    int | None,
    options.number(
        "--min-genre-count",
        help=help_of("min_genre_count"),
        bounds=options.FieldBounds("min_genre_count", outside=(0,)),
    ),
]
AnswersOpt = Annotated[Path | None, typer.Option("--answers", help=help_of("answers"))]
LabelFixesOpt = Annotated[Path | None, typer.Option("--label-fixes", help=help_of("label_fixes"))]
SeedOpt = Annotated[int | None, options.seed(help_of("seed"))]
SeedsOpt = Annotated[str | None, typer.Option("--seeds", help=help_of("seeds"))]
OutOpt = Annotated[Path | None, options.out(help_of("out"))]
CacheDirOpt = Annotated[Path | None, options.cache_dir()]
JobsOpt = Annotated[int | None, options.n_jobs(help_of("n_jobs"))]
SchedulerOpt = Annotated[str | None, options.scheduler()]
QuickOpt = Annotated[bool | None, typer.Option("--quick/--full", help=help_of("quick"))]
DeviceOpt = Annotated[str | None, options.device()]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="run.toml with any option.")]
FeaturesOpt = Annotated[str | None, typer.Option("--features", help=help_of("features"))]
DdpOpt = Annotated[bool | None, typer.Option("--ddp/--no-ddp", help=help_of("ddp"))]
ResplitOpt = Annotated[bool | None, options.resplit()]
ModelsOpt = Annotated[str | None, typer.Option("--models", help=help_of("models"))]
ChecksOpt = Annotated[bool | None, typer.Option("--checks/--no-checks", help=help_of("checks"))]
StyleMapOpt = Annotated[
    bool | None, typer.Option("--style-map/--no-style-map", help=help_of("style_map"))
]
RobustnessOpt = Annotated[
    bool | None, typer.Option("--robustness/--no-robustness", help=help_of("robustness"))
]
RunIdOpt = Annotated[str | None, typer.Option("--run-id", help=help_of("run_id"))]


def _config(config_file: Path | None, **cli: object):
    """The RunConfig of a command: ``config_file`` (run.toml), then every option the command
    line gave (None: not given), checked against the schema. The options are RunConfig's
    fields by name; ``--models`` and ``--seeds`` arrive as comma-separated text and
    ``--full`` (quick False) sets the full preset."""
    from harness.config.run_config import load_config

    given = {k: v for k, v in cli.items() if v is not None}
    if isinstance(given.get("models"), str):  # `--models ''` is an empty list, refused
        given["models"] = [m.strip() for m in given["models"].split(",") if m.strip()]
    if isinstance(given.get("seeds"), str):
        given["seeds"] = seed_list(given["seeds"])
    if given.get("quick") is False:  # --full: over a run.toml's quick = true too
        given["preset"] = "full"
    return load_config(config_file, **given)


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
    label_fixes: LabelFixesOpt = None,
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
    given = dict(locals())  # every option but --config is the RunConfig field of its name
    cfg = _config(given.pop("config"), **given)
    from harness.run.pipeline import run_pipeline

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
    label_fixes: LabelFixesOpt = None,
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
    given = dict(locals())  # every option but --config is the RunConfig field of its name
    from harness.registry import get_entry

    get_entry(given.pop("model"))  # an unknown name fails before anything heavy is imported
    cfg = _config(given.pop("config"), **given, models=[model], checks=False)
    from harness.run.pipeline import run_pipeline

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
