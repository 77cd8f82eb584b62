"""`fma-harness data synth | splits | decode-check`: make, split and check a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.commands import options
from harness.data.layout import DEFAULT_SYNTH_ROOT

SYNTH_EPILOG = """Examples:

  fma-harness data synth                          # the default set in data/synthetic

  fma-harness data synth --root /tmp/fma --subset medium --n-tracks 800 --sr 44100 --channels 2

  fma-harness data synth --root /tmp/by_label --format folders     # a folder per label

  fma-harness data synth --root /tmp/listed --format manifest      # manifest.csv + audio/

  fma-harness data synth --root /tmp/unknown --format manifest --no-artists
"""

SPLITS_EPILOG = """Examples:

  fma-harness data splits                         # data/synthetic, fma_small

  fma-harness data splits --root ~/fma --subset medium --resplit --seed 1

  fma-harness data splits --root ~/gtzan/genres     # a folder per label: the split it gets
"""

DECODE_CHECK_EPILOG = """Examples:

  fma-harness data decode-check                   # data/synthetic, fma_small

  fma-harness data decode-check --root ~/fma --subset small --n-jobs 8

  fma-harness data decode-check --root ~/my_clips/manifest.csv
"""

DATA_EPILOG = """Examples:

  fma-harness data synth                          # the default set in data/synthetic

  fma-harness data splits --root ~/fma --subset medium

  fma-harness data decode-check --root ~/fma --subset small
"""

RootOpt = Annotated[Path, options.root()]
SubsetOpt = Annotated[str, options.subset("small | medium (synth); also large | full.")]
JobsOpt = Annotated[int, options.n_jobs()]


def _rate(name: str, help: str = "Fraction of tracks with this planted fault.") -> Any:
    return options.bounded(name, help, whole=False, ge=0.0, le=0.5)


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _counts_table(title: str, counts: dict, *, total_label: str = "total"):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(str(key), str(value))
    table.add_row(total_label, str(sum(counts.values())), style="bold")
    return table


def synth(
    root: Annotated[Path, options.root("Where to write the synthetic FMA root.")] = (
        DEFAULT_SYNTH_ROOT
    ),
    subset: Annotated[str, options.subset("small (8 genres) | medium (16 genres)")] = "small",
    n_tracks: Annotated[
        int,
        options.bounded(
            "--n-tracks", "Tracks with audio (16 or more; medium: 32).", whole=True, ge=16
        ),
    ] = 400,
    duration: Annotated[
        float, options.bounded("--duration", "Clip length in seconds.", whole=False, gt=0)
    ] = 30.0,
    sr: Annotated[
        int, options.bounded("--sr", "Sample rate of the mp3s (Hz).", whole=True, ge=8000, le=48000)
    ] = 22050,
    channels: Annotated[
        int, options.bounded("--channels", "1 (mono) or 2 (stereo).", whole=True, ge=1, le=2)
    ] = 1,
    compression_level: Annotated[
        float | None,
        options.bounded(
            "--compression-level",
            "MP3 compression in [0, 1): 0 = 128 kbps, towards 1 = 32; default 96.",
            whole=False,
            ge=0,
            lt=1,
        ),
    ] = None,
    seed: Annotated[int, options.seed("Same seed, byte-identical files.")] = 0,
    n_test: Annotated[
        int, options.bounded("--n-test", "Challenge test clips.", whole=True, ge=0)
    ] = 80,
    n_multi_root: Annotated[
        int,
        options.bounded(
            "--n-multi-root", "Metadata-only tracks with two root genres.", whole=True, ge=0
        ),
    ] = 20,
    empty: Annotated[float, _rate("--empty")] = 0.005,
    short: Annotated[float, _rate("--short")] = 0.005,
    silent: Annotated[float, _rate("--silent")] = 0.005,
    corrupt: Annotated[float, _rate("--corrupt")] = 0.005,
    duplicate: Annotated[float, _rate("--duplicate")] = 0.01,
    near_duplicate: Annotated[float, _rate("--near-duplicate")] = 0.005,
    mislabel: Annotated[float, _rate("--mislabel", "Fraction of training tracks mislabelled.")] = (
        0.05
    ),
    n_jobs: JobsOpt = -1,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a synthetic FMA already at --root.")
    ] = False,
    format: Annotated[
        str,
        options.data_format(
            "fma (the FMA layout) | folders (a folder per label) | manifest (manifest.csv + "
            "audio/); folders and manifest add shifted repeated excerpts, no challenge folder."
        ),
    ] = "fma",
    artists: Annotated[
        bool,
        typer.Option(
            "--artists/--no-artists",
            help="--format manifest: list artists and albums (--no-artists: a collection whose "
            "artists are unknown, split by audio fingerprint).",
        ),
    ] = True,
) -> None:
    """Generate a synthetic FMA (metadata, mp3s, challenge folder, planted faults)."""
    from harness.data.synth.formats import check_artists_option, generate_format
    from harness.data.synth.generate import SynthConfig, generate

    check_artists_option(format=format, artists=artists)
    config = SynthConfig(
        root=root,
        subset=subset,
        n_tracks=n_tracks,
        duration=duration,
        sr=sr,
        channels=channels,
        compression_level=compression_level,
        seed=seed,
        empty=empty,
        short=short,
        silent=silent,
        corrupt=corrupt,
        duplicate=duplicate,
        near_duplicate=near_duplicate,
        mislabel=mislabel,
        n_test=n_test,
        n_multi_root=n_multi_root,
    )
    if format != "fma":
        summary = generate_format(
            config, format=format, n_jobs=n_jobs, overwrite=force, artists=artists
        )
        _print_synth_summary(summary, subset)
        return
    _print_synth_summary(generate(config, n_jobs=n_jobs, overwrite=force), subset)


def _print_synth_summary(summary, subset: str) -> None:
    console = _console()
    console.print(_counts_table(f"fma_{subset}: tracks per split", summary.splits))
    console.print(_counts_table("tracks per genre_top (as labelled)", summary.genres))
    console.print(_counts_table("planted faults (synthetic_truth.csv)", summary.faults))
    console.print(
        f"wrote {summary.n_audio} clips + {summary.n_test} challenge clips and "
        f"{summary.n_tracks} tracks.csv rows ({summary.n_metadata_only} metadata-only) "
        f"to {summary.root} in {summary.seconds:.1f} s"
    )


def splits(
    root: RootOpt = DEFAULT_SYNTH_ROOT,
    format: Annotated[str | None, options.data_format()] = None,
    subset: SubsetOpt = "small",
    resplit: Annotated[bool, options.resplit()] = False,
    seed: Annotated[int, options.seed("Seed of the re-split.")] = 0,
) -> None:
    """Show per-split clip counts per label and any artist/album leakage between splits."""
    import pandas as pd

    from harness.data.formats import load_dataset
    from harness.data.splits import SPLITS, check_leakage

    data = load_dataset(
        root=root, format=format, subset=subset, resplit=resplit, seed=seed, require_audio=False
    )
    split = data.splits
    table = pd.crosstab(data.labels.reindex(split.index), split)
    table = table.reindex(columns=list(SPLITS), fill_value=0)
    console = _console()
    source = split.attrs.get("source", "given")
    unlabelled = f", {data.n_unlabelled} without a label left out" if data.n_unlabelled else ""
    console.print(f"{data.subset}: {len(split)} clips{unlabelled}, split source: {source}")
    console.print(table.to_string())
    console.print(_counts_table("clips per split", split.value_counts().to_dict()))
    for note in data.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    leaks = check_leakage(data.tracks, split)
    if source == "audio":  # nothing to check: the groups are the audio fingerprints
        console.print("no artist is known: clips of the same audio are kept in one split")
    elif leaks.empty:
        console.print("no artist or album appears in more than one split")
    else:
        console.print(f"[red]leakage: {len(leaks)} artists/albums in more than one split[/red]")
        console.print(leaks.head(20).to_string(index=False))


def decode_check(
    root: RootOpt = DEFAULT_SYNTH_ROOT,
    format: Annotated[str | None, options.data_format()] = None,
    subset: SubsetOpt = "small",
    min_duration: Annotated[float | None, options.min_duration()] = None,
    n_jobs: JobsOpt = -1,
) -> None:
    """Decode every clip once and count the statuses (vs the truth file if any)."""
    import pandas as pd

    from harness.data.audio import decode_status_table
    from harness.data.formats import load_dataset
    from harness.data.prepared import decode_config_for

    data = load_dataset(root=root, format=format, subset=subset)
    config = decode_config_for(data.layout.root, min_duration=min_duration, data=data)
    table = decode_status_table(data.clips["path"].to_dict(), config=config, n_jobs=n_jobs)
    console = _console()
    counts = table["status"].value_counts().to_dict()
    console.print(
        _counts_table(f"decode status, {data.subset} (min {config.min_duration} s)", counts)
    )
    if data.layout.truth_csv.is_file():
        truth = pd.read_csv(data.layout.truth_csv, index_col="track_id")
        truth.index = truth.index.astype(str)
        fault = truth["fault"].reindex(table.index.astype(str)).fillna("(none)")
        fault.index = table.index
        console.print("status vs planted fault (synthetic_truth.csv):")
        crossed = pd.crosstab(table["status"].rename("status"), fault.rename("planted"))
        console.print(crossed.to_string())


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    group = typer.Typer(
        help="Make, split and check a dataset: FMA (real or synthetic), label folders, a manifest.",
        no_args_is_help=True,
        epilog=DATA_EPILOG,
    )
    group.command("synth", epilog=SYNTH_EPILOG)(synth)
    group.command("splits", epilog=SPLITS_EPILOG)(splits)
    group.command("decode-check", epilog=DECODE_CHECK_EPILOG)(decode_check)
    app.add_typer(group, name="data")
