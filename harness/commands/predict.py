"""`fma-harness predict` (a model bundle on any audio) and `export` (a bundle for round 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options

PREDICT_EPILOG = """Examples:

  fma-harness predict runs/RUN/models/cnn/bundle my_music/ --out genres.csv --format csv

  fma-harness predict runs/RUN/models/cnn data/synthetic/crowdai_fma_test --out cnn.csv

  fma-harness predict BUNDLE list.txt --out tags.jsonl --top-k 5 --middle

INPUT is a folder (searched recursively), audio files, or a .txt file listing paths. A rerun with
the same --out skips the files already written. Nothing in a bundle runs code when it is
loaded: a scikit-learn model (model.skops) is built only from the built-in baselines' types and
those given with --trust-type; a format-1 bundle's pickle (model.joblib) loads only with
--trust-pickle.

Exit codes:

  0  every file predicted

  1  a user error (bad bundle, no audio, --out in a missing folder): one line names it

  2  a usage error

  4  some files failed to decode: their rows hold the training prior and a reason

  5  the --budget ran out: the remaining files' rows hold the prior (a rerun predicts them)
"""

EXPORT_EPILOG = """Examples:

  fma-harness export runs/RUN --model cnn submission/

  TEST_DIRECTORY=clips OUTPUT_PATH=out.csv submission/run.sh

Writes DEST/bundle (verified copy of the model's bundle) and DEST/run.sh, the round-2 entry
point: it reads TEST_DIRECTORY and OUTPUT_PATH and calls `fma-harness predict`. The bundle is
loaded first (--trust-type, --trust-pickle as in predict), so one that would not load is
refused here; an old run's pickle is written as model.skops.
"""


def predict(
    bundle: Annotated[Path, typer.Argument(help="Model bundle folder (or a run's model folder).")],
    inputs: Annotated[
        list[Path], typer.Argument(help="Folders, audio files or .txt lists of paths.")
    ],
    out: Annotated[Path, options.out("Output file (its folder must exist).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto | challenge | csv | jsonl (auto: .jsonl -> jsonl; challenge genres -> "
            "challenge; else csv).",
        ),
    ] = "auto",
    top_k: Annotated[int, options.top_k("Genres named per row.")] = 3,
    middle: Annotated[
        bool, typer.Option("--middle", help="Use each track's middle 30 s, not all of it.")
    ] = False,
    n_jobs: Annotated[int, options.n_jobs("Decode workers (-1 = all cores).")] = 1,
    device: Annotated[str, options.device()] = "auto",
    batch_size: Annotated[
        int,
        options.bounded(
            "--batch-size", "Files decoded, predicted and written together.", whole=True, ge=1
        ),
    ] = 64,
    budget: Annotated[
        str | None,
        typer.Option("--budget", help="Time limit such as 90s, 30m, 10h: the rest gets the prior."),
    ] = None,
    trust_type: Annotated[list[str] | None, options.trust_type()] = None,
    trust_pickle: Annotated[bool, options.trust_pickle()] = False,
) -> None:
    """Predict genres of audio files with a trained model bundle."""
    from harness.bundles.predict import predict_files

    seconds = options.parse_duration(budget) if budget is not None else None
    summary = predict_files(
        bundle,
        inputs,
        out=out,
        fmt=fmt,
        top_k=top_k,
        middle=middle,
        n_jobs=n_jobs,
        device=device,
        batch_size=batch_size,
        budget=seconds,
        trust_types=tuple(trust_type or ()),
        trust_pickle=trust_pickle,
    )
    typer.echo(
        f"{summary.out} ({summary.fmt}): {summary.n_predicted} predicted, "
        f"{summary.n_skipped} already there, {summary.n_silent} silent (prior), "
        f"{summary.n_failed} failed (prior), {summary.n_budget} out of budget (prior) "
        f"in {summary.seconds:.1f} s"
    )
    for line in summary.failures:
        typer.secho(f"  failed: {line}", fg=typer.colors.YELLOW, err=True)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<run-id>).")],
    dest: Annotated[Path, typer.Argument(help="New folder for the bundle and run.sh.")],
    model: Annotated[str, typer.Option("--model", help="Model of the run to export.")],
    trust_type: Annotated[list[str] | None, options.trust_type()] = None,
    trust_pickle: Annotated[
        bool,
        options.trust_pickle(
            "Convert a format-1 bundle's model.joblib (a pickle: loading it runs code from the "
            "file, a warning is printed) to model.skops; only for a run you trust."
        ),
    ] = False,
) -> None:
    """Export a run's model as a portable bundle with the round-2 run.sh."""
    from harness.bundles.export import export_bundle

    folder = export_bundle(
        run_dir, model, dest, trust_types=tuple(trust_type or ()), trust_pickle=trust_pickle
    )
    typer.echo(
        f"exported {model} to {folder} (run: TEST_DIRECTORY=... OUTPUT_PATH=... "
        f"{folder / 'run.sh'})"
    )


def register(app: typer.Typer) -> None:
    """Add `predict` and `export` to the CLI."""
    app.command(epilog=PREDICT_EPILOG)(predict)
    app.command(epilog=EXPORT_EPILOG)(export)
