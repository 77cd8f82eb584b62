"""`fma-harness run` (the whole job) and `fma-harness train MODEL` (one model, same pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RUN_EPILOG = """Examples:

  fma-harness run              # synthetic FMA, every model: what `make run` does

  fma-harness run --fma-root ~/fma --subset medium --models mfcc-logreg,crnn

  fma-harness run --config run.toml --seed 1        # CLI options override the file

  torchrun --nproc_per_node 2 -m harness train crnn --ddp    # one process per GPU
"""

TRAIN_EPILOG = """Examples:

  fma-harness train crnn                     # synthetic FMA: train, calibrate, score, save

  fma-harness train cnn --config cnn.toml    # \\[params.cnn] epochs = 40, preset = "paper"

  torchrun --nproc_per_node 4 -m harness train cnn --ddp --fma-root ~/fma --subset medium

An interrupted neural training resumes from its checkpoint in the cache when run again.
"""

RootOpt = Annotated[
    Path | None, typer.Option("--fma-root", help="FMA root (fma_metadata/, fma_<subset>/).")
]
SubsetOpt = Annotated[str | None, typer.Option(help="small | medium | large | full")]
TaskOpt = Annotated[str | None, typer.Option(help="genre_top (single-label) | genres_all")]
TestDirOpt = Annotated[
    Path | None, typer.Option("--test-dir", help="Challenge test folder of <file_id>.mp3.")
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed for splits, models and bootstrap.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Parent folder of run directories.")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="Dask scheduler for features: tcp://host:8786 or 'local'.")
]
QuickOpt = Annotated[bool | None, typer.Option("--quick/--full", help="Smoke run: few epochs.")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N")]
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
ResplitOpt = Annotated[
    bool | None, typer.Option("--resplit/--official-split", help="Ignore set.split.")
]


def _config(config_file: Path | None, **cli: object):
    from harness.pipeline.run import RunConfig, load_config_file

    values = load_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in cli.items() if v is not None})
    return RunConfig(**values)


def register(app: typer.Typer) -> None:
    @app.command(epilog=RUN_EPILOG)
    def run(
        fma_root: RootOpt = None,
        subset: SubsetOpt = None,
        task: TaskOpt = None,
        models: Annotated[
            str | None, typer.Option(help="Comma-separated model names (default: all).")
        ] = None,
        test_dir: TestDirOpt = None,
        config: ConfigOpt = None,
        seed: SeedOpt = None,
        out: OutOpt = None,
        scheduler: SchedulerOpt = None,
        quick: QuickOpt = None,
        device: DeviceOpt = None,
        resplit: ResplitOpt = None,
        features: FeaturesOpt = None,
        ddp: DdpOpt = None,
        checks: Annotated[bool | None, typer.Option("--checks/--no-checks")] = None,
        run_id: Annotated[
            str | None, typer.Option(help="Name of the run directory (default: time + seed).")
        ] = None,
    ) -> None:
        """Run everything: data, splits, features, all models, submissions and the report."""
        from harness.pipeline.run import run_pipeline

        model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
        cfg = _config(
            config,
            root=fma_root,
            subset=subset,
            task=task,
            models=model_list,
            test_dir=test_dir,
            seed=seed,
            out=out,
            scheduler=scheduler,
            quick=quick,
            device=device,
            resplit=resplit,
            features=features,
            ddp=ddp,
            checks=checks,
            run_id=run_id,
        )
        run_pipeline(cfg)

    @app.command(epilog=TRAIN_EPILOG)
    def train(
        model: Annotated[str, typer.Argument(help="A registered model, e.g. mfcc-logreg, crnn.")],
        fma_root: RootOpt = None,
        subset: SubsetOpt = None,
        task: TaskOpt = None,
        test_dir: TestDirOpt = None,
        config: ConfigOpt = None,
        seed: SeedOpt = None,
        out: OutOpt = None,
        quick: QuickOpt = None,
        device: DeviceOpt = None,
        resplit: ResplitOpt = None,
        features: FeaturesOpt = None,
        ddp: DdpOpt = None,
    ) -> None:
        """Train one model, calibrate it, score it on validation and test, and save it."""
        from harness.registry import get_entry

        get_entry(model)  # an unknown name fails before anything heavy is imported
        from harness.pipeline.run import run_pipeline

        cfg = _config(
            config,
            root=fma_root,
            subset=subset,
            task=task,
            models=[model],
            test_dir=test_dir,
            seed=seed,
            out=out,
            quick=quick,
            device=device,
            resplit=resplit,
            features=features,
            ddp=ddp,
            checks=False,
        )
        run_pipeline(cfg)

    @app.command("models")
    def list_models() -> None:
        """List the registered models and baselines."""
        from harness.registry import MODELS

        for entry in MODELS.values():
            typer.echo(f"{entry.name:<12} {entry.kind:<8} {entry.summary}")
