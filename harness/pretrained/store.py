"""The cache of every clip's patch embeddings: resumable, crash-safe, shared by runs.

Layout, under the feature cache::

    <cache_dir>/embeddings/<source>-<hash>/spec.json                 what the hash covers
    <cache_dir>/embeddings/<source>-<hash>/<group>-<rows>.npz        one group, every layer
    <cache_dir>/embeddings/<source>-<hash>/partial/<group>-<rows>-<chunk>.npz

``<hash>`` covers the input it reads (the musicnn spectrogram set's cache key; for an ``hf:``
source the waveform's rate and duration), the source, the sha256 of the network's weights and
:data:`RECIPE_VERSION`; ``<rows>`` digests the group's clips (the spectrogram group's keys and
rows; an ``hf:`` source's keys, paths and file sizes), so a group with other clips is embedded
again. An ``hf:`` source reads each clip's waveform, decoded again here at its feature
extractor's rate (:class:`WaveformRows`); a clip that failed to decode in the feature stage
gets NaN rows. A group is embedded :data:`CHUNK_CLIPS` clips at a time; each chunk is written
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
from harness.pretrained.sources import PretrainedSource
from harness.pretrained.waveforms import WaveformRows
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


def store_dir(cache_dir: Path, input_set: str, source: PretrainedSource, weights: str) -> Path:
    """The cache folder of one source's embeddings of one input (a spectrogram set)."""
    spec = _spec(input_set, source, weights)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / "embeddings" / f"{source.name}-{digest}"


def _spec(input_set: str, source: PretrainedSource, weights: str) -> dict:
    return {
        "mel_set": input_set,
        "source": source.name,
        "checkpoint": source.checkpoint,
        "weights_sha256": weights,
        "recipe_version": RECIPE_VERSION,
    }


def embed_group(
    cache_dir: Path,
    *,
    group: str,
    logmel: LogMelConfig,
    embedder: Embedder,
    clips: pd.DataFrame | None = None,
    status: pd.Series | None = None,
) -> EmbeddingSet:
    """The embeddings of every clip of ``group`` (computed now, or read from the cache).

    ``logmel`` is the run's log-mel configuration: the musicnn spectrograms of the same
    duration must have been extracted (feature set ``musicnn-mel``). An ``hf:`` source reads
    ``clips`` (key -> ``path``, ``group``: the run's) and ``status`` (the feature stage's,
    key -> status) instead.
    """
    source = embedder.source
    if source.kind == "waveform":
        rows = WaveformRows(
            clips[clips["group"] == group],
            status,
            sr=embedder.sampling_rate,
            duration=logmel.duration,
        )
        input_set, rows_digest, index = rows.input_set, rows.digest(), rows.index
    else:
        mel = load_logmel(cache_dir, group=group, logmel=logmel, feature_set="musicnn-mel")
        input_set = Path(
            open_store(cache_dir, "musicnn-mel", logmel=logmel, create=False).root
        ).name
        rows, rows_digest, index = mel.data, _rows_digest(mel), mel.index
    folder = store_dir(cache_dir, input_set, source, embedder.weights_digest)
    final = folder / f"{group}-{rows_digest}.npz"
    layers = _read(final, source.layers)
    if layers is None:
        write_json_atomic(folder / "spec.json", _spec(input_set, source, embedder.weights_digest))
        layers = _compute(rows, folder, f"{group}-{rows_digest}", embedder)
        _write(final, layers)
        for chunk in (folder / "partial").glob(f"{group}-{rows_digest}-*.npz"):
            chunk.unlink(missing_ok=True)
    return EmbeddingSet(source=source.name, layers=layers, index=index)


def _rows_digest(mel: LogMelSet) -> str:
    text = "\n".join(
        f"{key!r},{row}" for key, row in zip(mel.index.index, mel.index["row"], strict=True)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _compute(rows, folder: Path, stem: str, embedder: Embedder) -> dict:
    """Every layer for ``rows`` (an array or :class:`WaveformRows`), chunk by chunk."""
    n = len(rows)
    chunks = []
    n_chunks = -(-n // CHUNK_CLIPS)
    for i in range(n_chunks):
        path = folder / "partial" / f"{stem}-{i:05d}.npz"
        part = _read(path, embedder.source.layers)
        if part is None:
            if i == 0 or i % 10 == 0:
                log.detail(f"  {embedder.source.name}: clips {i * CHUNK_CLIPS} of {n}")
            part = _embed_rows(rows[i * CHUNK_CLIPS : (i + 1) * CHUNK_CLIPS], embedder)
            _write(path, part)
        chunks.append(part)
    if not chunks:
        return {layer: np.zeros((0, 0, 0), np.float16) for layer in embedder.source.layers}
    return {layer: np.concatenate([c[layer] for c in chunks]) for layer in chunks[0]}


def _embed_rows(specs: np.ndarray, embedder: Embedder) -> dict[str, np.ndarray]:
    """float16 (n_rows, n_units, dim) per layer for inputs (n_rows, ...): spectrograms
    (n_rows, n_mels, frames) cut into patches, or waveforms (n_rows, samples) into windows."""
    specs = np.asarray(specs, dtype=np.float32)
    finite = np.isfinite(specs).reshape(len(specs), -1).all(axis=1)
    silent = embedder.units(np.zeros(specs.shape[1:], np.float32))
    k = len(silent)
    # a chunk with no finite clip still runs one silent unit set, to learn each layer's width
    rows = [embedder.units(s) for s in specs[finite]] or [silent]
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
