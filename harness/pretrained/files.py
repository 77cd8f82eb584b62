"""Pretrained embeddings of audio outside a run: the files ``predict``, ``embed`` and ``tag``
are given, one spectrogram each (any length: a long file gives more patches), or for an
``hf:`` source one waveform at its feature extractor's rate (a long file gives more windows).

A patch embedding is rounded to float16 here as the run's cache stores it
(:mod:`harness.pretrained.store`), so that a bundle's prediction of a clip equals the run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.features.config import MUSICNN_MEL, musicnn_logmel
from harness.features.logmel import logmel_spectrogram
from harness.pretrained.embedder import Embedder, make_embedder
from harness.pretrained.sources import get_source, source_tags
from harness.pretrained.tables import clip_values, layers_of


def patch_embeddings(specs: list[np.ndarray], embedder: Embedder) -> list[dict[str, np.ndarray]]:
    """Every layer of each file's patches.

    Parameters
    ----------
    specs : list of np.ndarray
        musicnn spectrograms (n_mels, n_frames) (``log10(1 + 10000 S)``), or for an ``hf:``
        embedder waveforms (samples,) at its rate.

    Returns
    -------
    list of dict
        Per file: layer -> float32 array (n_patches, dim), rounded through float16.
    """
    patches = [embedder.units(spec) for spec in specs]
    if not patches:
        return []
    values = embedder.embed(np.concatenate(patches))
    bounds = np.cumsum([0] + [len(p) for p in patches])
    return [
        {
            layer: rows[start:stop].astype(np.float16).astype(np.float32)
            for layer, rows in values.items()
        }
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def representation_rows(
    specs: list[np.ndarray],
    pairs: Iterable[tuple[str, str]],
    *,
    cache_dir: Path,
    device: str = "auto",
) -> pd.DataFrame:
    """The table a pretrained model reads, for files: one row per spectrogram, columns
    (source, representation, feature) as :func:`harness.pretrained.inputs.pretrained_table`."""
    pairs = list(dict.fromkeys(tuple(p) for p in pairs))
    blocks = []
    for source_name in dict.fromkeys(source for source, _ in pairs):
        source = get_source(source_name)
        embedder = make_embedder(source, cache_dir=cache_dir, device=device)
        per_file = patch_embeddings(specs, embedder)
        for _, representation in (p for p in pairs if p[0] == source_name):
            layers = layers_of(representation)
            values = np.stack(
                [clip_values({k: f[k][None] for k in layers}, representation)[0] for f in per_file]
            )
            names = source_tags(source) if representation == "taggram" else None
            names = names or [str(i) for i in range(values.shape[1])]
            columns = pd.MultiIndex.from_tuples(
                [(source_name, representation, str(n)) for n in names],
                names=["source", "representation", "feature"],
            )
            blocks.append(pd.DataFrame(values, columns=columns))
    return pd.concat(blocks, axis=1)


@dataclass(frozen=True)
class FileEmbedding:
    """One file's pretrained outputs, or why it has none.

    Attributes
    ----------
    path : Path
    duration : float
        Decoded seconds (0.0 when nothing decoded).
    layers : dict
        layer -> float32 (n_patches, dim); empty when the file failed.
    error : str
        Why the file has no outputs ("" when it has).
    """

    path: Path
    duration: float
    layers: dict[str, np.ndarray]
    error: str = ""


def file_spectrogram(path: Path) -> tuple[np.ndarray | None, float, str]:
    """The musicnn spectrogram of a whole file: (spec (96, n_frames) or None, seconds, error)."""
    from harness.data.audio import DecodeConfig, decode

    clip = decode(path, config=DecodeConfig(min_duration=0.0))
    if clip.y is None:
        return None, clip.duration, f"{clip.status}: {clip.error}"[:300]
    seconds = clip.y.shape[0] / clip.sr
    config = musicnn_logmel(max(seconds, 1.0 / MUSICNN_MEL["sr"]))
    spec, _ = logmel_spectrogram(clip.y, sr=clip.sr, config=config)
    if not np.isfinite(spec).all():
        return None, clip.duration, "failed: the spectrogram holds NaN or infinite values"
    return spec, clip.duration, ""


def file_waveform(path: Path, *, sr: int) -> tuple[np.ndarray | None, float, str]:
    """A whole file's mono waveform at ``sr``: (float32 (samples,) or None, seconds, error)."""
    from harness.data.audio import DecodeConfig, decode

    clip = decode(path, config=DecodeConfig(sr=sr, min_duration=0.0))
    if clip.y is None:
        return None, clip.duration, f"{clip.status}: {clip.error}"[:300]
    return np.asarray(clip.y, np.float32), clip.duration, ""


def file_input(path: Path, embedder: Embedder) -> tuple[np.ndarray | None, float, str]:
    """What ``embedder`` reads of a whole file: its musicnn spectrogram, or for an ``hf:``
    embedder its waveform (see :func:`file_spectrogram`, :func:`file_waveform`)."""
    if embedder.source.kind == "waveform":
        return file_waveform(path, sr=embedder.sampling_rate)
    return file_spectrogram(path)


def embed_files(
    paths: list[Path], source_name: str, *, cache_dir: Path, device: str = "auto"
) -> list[FileEmbedding]:
    """Every layer of ``source_name`` for each file's 3 s patches (an ``hf:`` source's
    windows), float32, not rounded."""
    embedder = make_embedder(get_source(source_name), cache_dir=cache_dir, device=device)
    out = []
    for path in paths:
        spec, duration, error = file_input(Path(path), embedder)
        if spec is None:
            out.append(FileEmbedding(Path(path), duration, {}, error))
            continue
        layers = embedder.embed(embedder.units(spec))
        out.append(FileEmbedding(Path(path), duration, layers))
    return out
