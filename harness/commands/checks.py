"""`fma-harness check` (data checklist) and `fma-harness report RUN_DIR` (render a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options
from harness.config.schema import help_of
from harness.data.layout import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR, DEFAULT_SYNTH_ROOT
from harness.run_layout import RunLayout

CHECK_EPILOG = """Examples:

  fma-harness check                                  # the synthetic set in data/synthetic

  fma-harness check --root ~/fma --subset medium --out runs/checks-medium

  fma-harness check --root ~/gtzan/genres            # a folder per label (or a manifest CSV)
"""

REPORT_EPILOG = """Examples:

  fma-harness report runs/20260101-120000-seed0      # writes report.md and report.html there
"""


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _print_summary(results, console) -> None:
    from rich.table import Table

    colours = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}
    table = Table(title="Checks", title_justify="left")
    for column in ("family", "check", "verdict", "finding"):
        table.add_column(column, overflow="fold")
    for r in results:
        finding = r.finding if len(r.finding) < 140 else r.finding[:137] + "..."
        table.add_row(r.family, r.name, f"[{colours[r.verdict]}]{r.verdict}[/]", finding)
    console.print(table)


def check(
    root: Annotated[Path, options.root()] = DEFAULT_SYNTH_ROOT,
    format: Annotated[str | None, options.data_format()] = None,
    subset: Annotated[str, options.subset()] = "small",
    out: Annotated[
        Path | None, options.out("Report folder (default: runs/checks-<root name>).")
    ] = None,
    cache_dir: Annotated[Path, options.cache_dir()] = DEFAULT_CACHE_DIR,
    resplit: Annotated[bool, options.resplit()] = False,
    seed: Annotated[int, options.seed("Seed of the re-split and the mislabel CV.")] = 0,
    n_jobs: Annotated[int, options.n_jobs()] = -1,
    min_duration: Annotated[float | None, options.min_duration()] = None,
    label_fixes: Annotated[
        Path | None, typer.Option("--label-fixes", help=help_of("label_fixes"))
    ] = None,
) -> None:
    """Run the data checklist (audio, duplicates, leakage, labels, features); no model training.

    Writes checks.json, report.md and a self-contained report.html.

    On a synthetic set the findings are scored against synthetic_truth.csv.
    """
    import sys

    from harness.run.check import check_dataset

    out = out or DEFAULT_RUNS_DIR / f"checks-{root.resolve().name}"
    console = _console()
    results, scores = check_dataset(
        root=root,
        subset=subset,
        cache_dir=cache_dir,
        out=out,
        resplit=resplit,
        seed=seed,
        n_jobs=n_jobs,
        progress=sys.stderr.isatty(),
        format=format,
        min_duration=min_duration,
        label_fixes=label_fixes,
    )
    _print_summary(results, console)
    if scores is not None:
        console.print("Against the planted faults (synthetic_truth.csv):")
        console.print(scores.round(3).to_string(index=False))
    layout = RunLayout(out)
    console.print(f"Report: {layout.report_html}  ({layout.report_md}, {layout.checks})")


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<run_id>).")],
    n_jobs: Annotated[int, options.n_jobs()] = -1,
) -> None:
    """Render everything a run produced (data checks, model sanity, results, figures)."""
    from harness.report.markdown import collect_run, write_report

    results, meta = collect_run(run_dir, n_jobs=n_jobs)
    md_path, html_path = write_report(
        results, run_dir, title=f"fma-harness report: {run_dir.name}", meta=meta
    )
    console = _console()
    _print_summary(results, console)
    console.print(f"Report: {html_path}  ({md_path})")


def register(app: typer.Typer) -> None:
    """Add `check` and `report` to the CLI."""
    app.command(epilog=CHECK_EPILOG)(check)
    app.command(epilog=REPORT_EPILOG)(report)
