"""`fma-harness review`: the page to listen to the suspects, decide and export label fixes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options
from harness.data.layout import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR

REVIEW_EPILOG = """Examples:

  fma-harness review runs/20260101-120000-seed0      # writes runs/.../review/index.html

  fma-harness review --root data/synthetic           # the data checklist alone, no run

  fma-harness run --label-fixes label_fixes.csv      # then train on the decisions exported
"""


def review(
    run_dir: Annotated[
        Path | None, typer.Argument(help="A run directory (runs/<run_id>) with checks.json.")
    ] = None,
    root: Annotated[
        Path | None, options.root("Review a dataset's data checks alone (no run folder).")
    ] = None,
    format: Annotated[str | None, options.data_format()] = None,
    subset: Annotated[str, options.subset()] = "small",
    out: Annotated[
        Path | None, options.out("Page folder (default: RUN_DIR/review, or the checks' review/).")
    ] = None,
    max_cards: Annotated[
        int,
        options.bounded(
            "--max-cards", "At most this many cards, most certain first.", whole=True, ge=1
        ),
    ] = 200,
    cache_dir: Annotated[Path, options.cache_dir()] = DEFAULT_CACHE_DIR,
    seed: Annotated[int, options.seed("Seed of the re-split and the mislabel CV.")] = 0,
    n_jobs: Annotated[int, options.n_jobs()] = -1,
) -> None:
    """Write a page (index.html, excerpts beside it) to listen to each suspect and decide.

    Open it from the file system; decisions are kept in the browser and exported as
    label_fixes.csv for `fma-harness run --label-fixes`.
    """
    from harness.errors import ParameterError

    if (run_dir is None) == (root is None):
        raise ParameterError("review: pass a RUN_DIR or --root DATA_DIR (one of them)")
    if run_dir is not None:
        from harness.review.build import review_run

        page = review_run(run_dir, out=out, max_cards=max_cards)
    else:
        from harness.run.check import review_dataset

        checks = DEFAULT_RUNS_DIR / f"checks-{root.resolve().name}"
        page = review_dataset(
            root=root,
            format=format,
            subset=subset,
            cache_dir=cache_dir,
            checks_dir=checks if out is None else Path(out),
            out=out,
            max_cards=max_cards,
            seed=seed,
            n_jobs=n_jobs,
        )
    left = f", {page.left_out} left out by --max-cards" if page.left_out else ""
    typer.echo(f"Review page: {page.path}  ({page.shown} suspects{left})")


def register(app: typer.Typer) -> None:
    """Add `review` to the CLI."""
    app.command(epilog=REVIEW_EPILOG)(review)
