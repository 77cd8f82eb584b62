"""The cache of every clip's patch embeddings: resumable, crash-safe, shared by runs.

Layout, under the feature cache::

    <cache_dir>/embeddings/<source>-<hash>/spec.json                 what the hash covers
    <cache_dir>/embeddings/<source>-<hash>/<group>-<rows>.npz        one group, every layer
    <cache_dir>/embeddings/<source>-<hash>/partial/<group>-<rows>-<chunk>.npz

``<hash>`` covers the musicnn spectrogram set it reads (its cache key), the source, the
sha256 of the network's weights and :data:`RECIPE_VERSION`; ``<rows>`` digests the
spectrogram group's index (its keys and rows), so a group rewritten with other clips is
embedded again. A group is embedded :data:`CHUNK_CLIPS` clips at a time; each chunk is written
to ``partial/`` atomically, so a killed run resumes from its last finished chunk. When every
chunk is there they are joined into the group file (atomic), and the chunks removed.

Group file (``np.load``, no pickle): one array per layer, shape (n_clips, n_patches, dim),
float16, rows in the order of the spectrogram group's index; NaN rows for clips whose
spectrogram is not finite (failed to decode).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import log
from harness.features.config import LogMelConfig
from harness.features.tables import LogMelSet, load_logmel
from harness.features.worker import open_store
from harness.pretrained.embedder import Embedder
from harness.pretrained.patches import cut_patches, n_patches
from harness.pretrained.sources import PretrainedSource
from harness.storage import atomic_target, write_json_atomic

#: Bump when a change here changes any stored value.
RECIPE_VERSION = 1
#: Clips embedded per journaled chunk.
CHUNK_CLIPS = 128


@dataclass
class EmbeddingSet:
    """The patch embeddings of one group from one source.

    Attributes
    ----------
    source : str
    layers : dict
        layer -> float16 array (n_clips, n_patches, dim), rows as ``index``.
    index : pd.DataFrame
        The spectrogram group's index: clip key -> row, status, ...
    """

    source: str
    layers: dict[str, np.ndarray]
    index: pd.DataFrame

    def rows(self, keys: pd.Index) -> np.ndarray:
        """Row numbers of ``keys`` (int64), in their order."""
        return self.index["row"].reindex(keys).to_numpy(dtype=np.int64)


def store_dir(cache_dir: Path, mel_set: str, source: PretrainedSource, weights: str) -> Path:
    """The cache folder of one source's embeddings of one spectrogram set."""
    spec = _spec(mel_set, source, weights)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / "embeddings" / f"{source.name}-{digest}"


def _spec(mel_set: str, source: PretrainedSource, weights: str) -> dict:
    return {
        "mel_set": mel_set,
        "source": source.name,
        "checkpoint": source.checkpoint,
        "weights_sha256": weights,
        "recipe_version": RECIPE_VERSION,
    }


def embed_group(
    cache_dir: Path, *, group: str, logmel: LogMelConfig, embedder: Embedder
) -> EmbeddingSet:
    """The embeddings of every clip of ``group`` (computed now, or read from the cache).

    ``logmel`` is the run's log-mel configuration: the musicnn spectrograms of the same
    duration must have been extracted (feature set ``musicnn-mel``).
    """
    mel = load_logmel(cache_dir, group=group, logmel=logmel, feature_set="musicnn-mel")
    mel_set = Path(open_store(cache_dir, "musicnn-mel", logmel=logmel, create=False).root).name
    source = embedder.source
    folder = store_dir(cache_dir, mel_set, source, embedder.weights_digest)
    rows_digest = _rows_digest(mel)
    final = folder / f"{group}-{rows_digest}.npz"
    layers = _read(final, source.layers)
    if layers is None:
        write_json_atomic(folder / "spec.json", _spec(mel_set, source, embedder.weights_digest))
        layers = _compute(mel, folder, f"{group}-{rows_digest}", embedder)
        _write(final, layers)
        for chunk in (folder / "partial").glob(f"{group}-{rows_digest}-*.npz"):
            chunk.unlink(missing_ok=True)
    return EmbeddingSet(source=source.name, layers=layers, index=mel.index)


def _rows_digest(mel: LogMelSet) -> str:
    text = "\n".join(
        f"{key!r},{row}" for key, row in zip(mel.index.index, mel.index["row"], strict=True)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _compute(mel: LogMelSet, folder: Path, stem: str, embedder: Embedder) -> dict:
    n = len(mel)
    chunks = []
    n_chunks = -(-n // CHUNK_CLIPS)
    for i in range(n_chunks):
        path = folder / "partial" / f"{stem}-{i:05d}.npz"
        part = _read(path, embedder.source.layers)
        if part is None:
            if i == 0 or i % 10 == 0:
                log.detail(f"  {embedder.source.name}: clips {i * CHUNK_CLIPS} of {n}")
            part = _embed_rows(mel.data[i * CHUNK_CLIPS : (i + 1) * CHUNK_CLIPS], embedder)
            _write(path, part)
        chunks.append(part)
    if not chunks:
        k = n_patches(mel.config.n_frames)
        return {layer: np.zeros((0, k, 0), np.float16) for layer in embedder.source.layers}
    return {layer: np.concatenate([c[layer] for c in chunks]) for layer in chunks[0]}


def _embed_rows(specs: np.ndarray, embedder: Embedder) -> dict[str, np.ndarray]:
    """float16 (n_rows, n_patches, dim) per layer for spectrograms (n_rows, n_mels, frames)."""
    specs = np.asarray(specs, dtype=np.float32)
    finite = np.isfinite(specs).reshape(len(specs), -1).all(axis=1)
    k = n_patches(specs.shape[2])
    # a chunk with no finite clip still runs one silent patch, to learn each layer's width
    rows = [cut_patches(s) for s in specs[finite]] or [cut_patches(np.zeros(specs.shape[1:]))]
    values = embedder.embed(np.concatenate(rows))
    out = {}
    for layer, flat in values.items():
        full = np.full((len(specs), k, flat.shape[-1]), np.nan, dtype=np.float16)
        if finite.any():
            full[finite] = flat.reshape(int(finite.sum()), k, -1)
        out[layer] = full
    return out


def _read(path: Path, layers: tuple[str, ...]) -> dict | None:
    """The arrays of ``path``, or None when it is absent or damaged (then it is recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as found:
            return {layer: found[layer] for layer in layers}
    except (OSError, ValueError, KeyError, EOFError):
        log.warning(f"{path}: damaged embedding cache file; computing it again")
        path.unlink(missing_ok=True)
        return None


def _write(path: Path, layers: dict[str, np.ndarray]) -> None:
    with atomic_target(path, durable=True) as tmp, open(tmp, "wb") as f:
        np.savez(f, **layers)
