"""`fma-harness features`: extract (or reuse) MFCC-140 / log-mel features into the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options
from harness.data.layout import DEFAULT_CACHE_DIR, DEFAULT_SYNTH_ROOT

FEATURES_EPILOG = """Examples:

  fma-harness features                                   # data/synthetic, MFCC-140 + log-mel

  fma-harness features --root ~/fma --subset medium --feature-sets mfcc --n-jobs 8

  fma-harness features --root ~/fma --feature-sets all   # the paper's 518 features

  fma-harness features --root /shared/fma --cache-dir /shared/cache --scheduler tcp://head:8786

A second run with the same options does no work; a killed run resumes where it stopped.
"""


def build_clips(
    root: Path,
    *,
    subset: str,
    resplit: bool,
    seed: int,
    test_dir: Path | None,
    format: str | None = None,
):
    """The clips table: every subset track (group = split, labelled or not) plus the clips of
    the challenge folder (``test_dir``, default ROOT's ``crowdai_fma_test/`` when present); for
    a folder-per-label or manifest root, its clips (group = split).

    Returns
    -------
    pd.DataFrame
        Index key (int track_id, str file_id for challenge clips); columns path, group.
    """
    import pandas as pd

    from harness.data import fma
    from harness.data.formats import detect_format, load_dataset
    from harness.data.prepared import (
        challenge_clips,
        default_test_dir,
        holds_clips,
        load_subset_tracks,
        track_clips,
    )
    from harness.data.splits import get_splits

    kind = detect_format(root, format=format)
    if kind != "fma":
        return load_dataset(root=root, format=kind, resplit=resplit, seed=seed).clips
    layout, tracks = load_subset_tracks(root, subset=subset)
    audio_dir = fma.require_audio_dir(layout.root, subset)
    splits = get_splits(tracks, resplit=resplit, seed=seed)
    clips = track_clips(tracks.index, splits=splits, audio_dir=audio_dir)
    test_dir = test_dir if test_dir is not None else default_test_dir(layout.root)
    if test_dir is not None and holds_clips(test_dir):
        clips = pd.concat([clips, challenge_clips(test_dir)])
    return clips


def _status_counts(status):
    """A rich table: clips per group (rows) and status (columns)."""
    import pandas as pd
    from rich.table import Table

    counts = pd.crosstab(status["group"], status["status"], margins=True, margins_name="total")
    table = Table(title="feature status per group", title_justify="left")
    table.add_column("group")
    for col in counts.columns:
        table.add_column(str(col), justify="right")
    for group, row in counts.iterrows():
        style = "bold" if group == "total" else None
        table.add_row(str(group), *(str(int(v)) for v in row), style=style)
    return table


def features(
    root: Annotated[Path, options.root()] = DEFAULT_SYNTH_ROOT,
    format: Annotated[str | None, options.data_format()] = None,
    subset: Annotated[str, options.subset()] = "small",
    feature_sets: Annotated[
        str, typer.Option("--feature-sets", help="Comma-separated: mfcc, logmel, all (518).")
    ] = "mfcc,logmel",
    n_jobs: Annotated[int, options.n_jobs()] = -1,
    scheduler: Annotated[str | None, options.scheduler()] = None,
    cache_dir: Annotated[Path, options.cache_dir()] = DEFAULT_CACHE_DIR,
    test_dir: Annotated[
        Path | None, options.test_dir("Challenge folder (default: ROOT's crowdai_fma_test/).")
    ] = None,
    resplit: Annotated[bool, options.resplit()] = False,
    seed: Annotated[int, options.seed("Seed of --resplit.")] = 0,
    min_duration: Annotated[float | None, options.min_duration()] = None,
) -> None:
    """Extract MFCC-140 (FMA paper) and log-mel features for every clip, into the cache."""
    import time

    from rich.console import Console

    from harness.data.formats import detect_format, load_dataset
    from harness.data.prepared import decode_config_for
    from harness.features import check_feature_sets, extract
    from harness.features.config import logmel_for_clips

    sets = check_feature_sets(feature_sets)
    kind = detect_format(root, format=format)
    # an own collection: its clip length sets 'short' and the log-mel window, as in `run`
    data = (
        None if kind == "fma" else load_dataset(root=root, format=kind, resplit=resplit, seed=seed)
    )
    if data is not None:
        clips = data.clips
    else:
        clips = build_clips(
            root, subset=subset, resplit=resplit, seed=seed, test_dir=test_dir, format=kind
        )
    decode = decode_config_for(
        root if root.is_dir() else root.parent, min_duration=min_duration, data=data
    )
    start = time.perf_counter()
    status = extract(
        clips,
        cache_dir=cache_dir,
        feature_sets=sets,
        logmel=logmel_for_clips(decode.min_duration),
        n_jobs=n_jobs,
        scheduler=scheduler,
        decode=decode,
    )
    seconds = time.perf_counter() - start
    console = Console(highlight=False)
    console.print(_status_counts(status))
    console.print(
        f"{len(status)} clips, {status.attrs['n_computed']} computed, "
        f"{status.attrs['n_cached']} from the cache; feature sets {', '.join(sets)} in "
        f"{cache_dir} ({seconds:.1f} s)"
    )


def register(app: typer.Typer) -> None:
    """Add the ``features`` command to ``app``."""
    app.command("features", epilog=FEATURES_EPILOG)(features)
