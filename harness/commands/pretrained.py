"""`fma-harness embed` (pretrained embeddings of any audio) and `tag` (its 50 tags).

Both read audio as ``predict`` does (folders searched recursively, audio files, .txt lists),
each file whole, however long: a file gives one 3 s patch per 187 frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options

SOURCE_HELP = (
    "Pretrained network: musicnn-msd | musicnn-mtt | vgg-msd | vgg-mtt, or (embed) "
    "hf:PATH_OR_ID, a Hugging Face audio model."
)

EMBED_EPILOG = """Examples:

  fma-harness embed my_music/ --out my_music.npz                # musicnn-msd, every layer

  fma-harness embed a.mp3 b.flac --model musicnn-mtt --out ab.npz

The .npz (np.load, no pickle) holds `paths`, `duration` (s) and `error` per file, `patch_file`
(the file of each patch) and, per layer (taggram, penultimate, mean_pool, max_pool; vgg:
taggram, pool5; hf:PATH_OR_ID: hidden_last, hidden_mean per 5 s window): `<layer>`
(n_patches, dim), `<layer>_mean` and `<layer>_max` (n_files, dim), NaN rows for files that
failed to decode.
"""

TAG_EPILOG = """Examples:

  fma-harness tag song.mp3                       # the 5 likeliest MSD tags

  fma-harness tag my_music/ --top-k 10 --json    # one JSON object per file

  fma-harness tag my_music/ --out tags.csv       # every tag's probability, one row per file

Probabilities are the mean over the file's 3 s patches (sigmoid outputs: they do not sum to 1).
"""

ModelOpt = Annotated[str, typer.Option("--model", help=SOURCE_HELP)]
InputsArg = Annotated[list[Path], typer.Argument(help="Folders, audio files or .txt lists.")]


def embed(
    inputs: InputsArg,
    out: Annotated[Path, options.out("The .npz file to write (its folder must exist).")],
    model: ModelOpt = "musicnn-msd",
    cache_dir: Annotated[Path, options.cache_dir()] = Path(".cache"),
    device: Annotated[str, options.device()] = "auto",
) -> None:
    """Pretrained embeddings (every layer, per patch and per file) of audio files."""
    from harness.pretrained.output import check_out, write_embeddings

    files = _files(inputs, model, out=out, suffix=".npz", check_out=check_out)
    results = _embed(files, model, cache_dir=cache_dir, device=device)
    write_embeddings(out, results)
    failed = sum(1 for r in results if r.error)
    typer.echo(f"{out}: {len(results) - failed} files embedded with {model}, {failed} failed")
    for result in (r for r in results if r.error):
        typer.secho(f"  failed: {result.path}: {result.error}", fg=typer.colors.YELLOW, err=True)


def tag(
    inputs: InputsArg,
    model: ModelOpt = "musicnn-msd",
    top_k: Annotated[int, options.top_k("Tags shown per file.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    out: Annotated[
        Path | None, options.out("Also write every tag's probability to this CSV.")
    ] = None,
    cache_dir: Annotated[Path, options.cache_dir()] = Path(".cache"),
    device: Annotated[str, options.device()] = "auto",
) -> None:
    """The pretrained tagger's tags of audio files (MSD or MagnaTagATune top-50)."""
    from harness.pretrained.output import (
        check_out,
        check_taggable,
        check_top_k,
        tag_rows,
        write_tag_csv,
    )

    check_top_k(top_k)
    check_taggable(model)
    files = _files(inputs, model, out=out, suffix=".csv", check_out=check_out)
    results = _embed(files, model, cache_dir=cache_dir, device=device)
    rows = tag_rows(results, model)
    if out is not None:
        write_tag_csv(out, rows)
    for row in rows:
        best = sorted(row["tags"].items(), key=lambda item: -item[1])[:top_k]
        if as_json:
            shown = {"path": row["path"], "error": row["error"], "tags": dict(best)}
            typer.echo(json.dumps(shown))
        elif row["error"]:
            typer.secho(f"{row['path']}: {row['error']}", fg=typer.colors.YELLOW, err=True)
        else:
            typer.echo(f"{row['path']}: " + ", ".join(f"{t} {p:.2f}" for t, p in best))


def _files(inputs, model, *, out, suffix, check_out):
    from harness.bundles.featurise import find_audio
    from harness.pretrained.sources import get_source

    get_source(model)
    if out is not None:
        check_out(Path(out), suffix=suffix)
    return find_audio(inputs)


def _embed(files, model, *, cache_dir, device):
    from harness.config.model_settings import check_device
    from harness.pretrained.files import embed_files

    check_device(device)
    return embed_files(files, model, cache_dir=cache_dir, device=device)


def register(app: typer.Typer) -> None:
    """Add `embed` and `tag` to the CLI."""
    app.command(epilog=EMBED_EPILOG)(embed)
    app.command(epilog=TAG_EPILOG)(tag)
