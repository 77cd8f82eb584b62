"""`fma-harness compare RUN_DIR ...`: models over several runs (splits and seeds), side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

COMPARE_EPILOG = """Examples:

  for s in 0 1 2; do fma-harness run --root my_set --seed $s --run-id split$s; done

  fma-harness compare runs/split0 runs/split1 runs/split2 --against mfcc-logreg

  fma-harness compare runs/split* --out comparison.csv

Each --seed draws another split of a dataset whose split is not fixed (a folder per label, a
manifest without a split column, --resplit) and trains with another seed.
"""

# the scores printed, per task, with their headers (every score goes to --out)
SHOWN = {
    "genre_top": {
        "val_log_loss": "val log loss",
        "test_log_loss": "test log loss",
        "test_macro_f1": "test macro F1",
        "test_accuracy": "test accuracy",
    },
    "genres_all": {
        "val_pr_auc_macro": "val PR-AUC",
        "test_pr_auc_macro": "test PR-AUC",
        "test_bce": "test BCE",
        "test_f1_macro_tuned": "test macro F1 (tuned)",
    },
}


def _cell(mean: float, std: float) -> str:
    if mean != mean:  # NaN: the model never trained without failing
        return "-"
    return f"{mean:.3f}" if std != std else f"{mean:.3f} ± {std:.3f}"


def _print_table(comparison, *, against: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = SHOWN[comparison.task]
    title = f"Models over {comparison.n_runs} runs (mean ± std over the runs each trained in)"
    out = Table(title=title)
    out.add_column("model")
    out.add_column("runs", justify="right")
    for header in shown.values():
        out.add_column(header, justify="right")
    if against:
        out.add_column(f"ahead of {against} (both test measures)", justify="right")
    for values in comparison.table.to_dict("records"):
        cells = [str(values["model"]), str(values["n_runs"])]
        cells += [_cell(values[f"{m}_mean"], values[f"{m}_std"]) for m in shown]
        if against:
            shared = values[f"runs_with_{against}"]
            ahead = values[f"ahead_of_{against}"]
            cells.append("(reference)" if values["model"] == against else f"{ahead} of {shared}")
        out.add_row(*cells)
    Console(highlight=False, width=200).print(out)


def compare(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories (runs/<run-id>), two or more.")
    ],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Reference model: count the runs in which each model beat it on both test "
            "measures (log loss and macro F1; BCE and macro PR-AUC for genres_all).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the whole table to this CSV.")
    ] = None,
) -> None:
    """Compare models over several runs: mean and std of every score, and wins over a reference."""
    from harness.config.run_config import check_writable
    from harness.errors import ParameterError
    from harness.run.comparison import compare_runs
    from harness.run.manifest import write_csv_atomic

    if out is not None:
        if out.is_dir():
            raise ParameterError(
                f"--out {out}: is a folder; name the CSV file, e.g. --out {out / 'comparison.csv'}"
            )
        check_writable("--out", out.parent)
    comparison = compare_runs(run_dirs, against=against)
    _print_table(comparison, against=against)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(comparison.table, out)
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add `compare` to the CLI."""
    app.command(epilog=COMPARE_EPILOG)(compare)
