"""The embeddings stage: what each model learned about every clip, and its 2-D map.

After a neural model is trained, its penultimate activations (the input of its final linear
layer, :mod:`harness.training.embeddings`) are read for every usable clip of every group
(training, validation, test and the unlabelled challenge clips), and once per run the same is
done for the MFCC-140 table the baselines read. Each source is written atomically to
``<run_dir>/embeddings/<source>.npz``; the report's style map and near-duplicate checks
(:mod:`harness.checks.runs.style_map`,
:mod:`harness.checks.runs.embedding_duplicates`) read only these.

File format (``np.load(path)``, no pickle), one row per clip in group order training,
validation, test, challenge:

=============  ====================  ======================================================
array          shape, dtype          content
=============  ====================  ======================================================
``keys``       (n,) str              clip key: FMA track id, challenge file id, or the path
                                     of a folder / manifest set
``groups``     (n,) str              training, validation, test or challenge
``labels``     (n,) str              genre (single-label run); a multi-label run's
                                     ``genre_top`` where the tracks table has one; "" for an
                                     unlabelled clip
``year``       (n,) float64          year of ``year_source``; NaN unknown (challenge clips)
``embedding``  (n, D) float32        track embedding: the mean over the evaluation chunks
                                     (neural), or the MFCC-140 row z-scored with the
                                     training split's mean and standard deviation
``chunks``     (n, k, D) float16     per-chunk embeddings (neural sources only)
``map``        (n, 2) float32        t-SNE coordinates (absent with fewer than 10 clips)
``source``     () str                model name, or ``mfcc-140``
``label_note`` () str                what ``labels`` holds
``year_source`` () str               the tracks.csv column of ``year`` ("" when none)
``map_metric`` () str                distance the map was computed with
``map_note``   () str                why there is no ``map`` ("" when there is one)
=============  ====================  ======================================================

Clips a model never sees (failed to decode, digital silence) are left out. A model without a
final linear layer gets no file; ``embeddings/<source>.skipped.json`` says why.

The map: scikit-learn's t-SNE of all clips of a source together (so the unlabelled ones land
on the same map), seeded, perplexity ``min(30, (n - 1) / 3)``, PCA initialisation, cosine
distance on the standardised embedding (see :mod:`harness.checks.runs.style_map` for why cosine
and standardised).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler

from harness import log
from harness.bundles.inputs import FeatureTableModel, model_input
from harness.checks.runs.style_map import (
    MFCC_SOURCE,
    MIN_MAP_CLIPS,
    PRETRAINED_LAYERS,
    one_thread_below,
    standardised,
)
from harness.config.run_config import RunConfig
from harness.data.prepared import CHALLENGE_GROUP, PreparedData
from harness.data.splits import SPLITS
from harness.features.changed_store import save_arrays
from harness.features.extracted import ExtractedFeatures, usable_keys
from harness.registry import ModelEntry
from harness.run.model_run import ModelOutcome, model_inputs_of
from harness.run.timing import StageTimes
from harness.run_layout import RunLayout
from harness.storage import write_json_atomic

GROUPS = (*SPLITS, CHALLENGE_GROUP)
MAP_METRIC = "cosine"
# release year where FMA has it, else the upload year (the synthetic set draws both at random)
YEAR_COLUMNS = (("album", "date_released"), ("track", "date_created"))


def model_embedding_stage(
    config: RunConfig,
    run_dir: Path,
    name: str,
    outcome: ModelOutcome,
    data: PreparedData,
    features: ExtractedFeatures,
    times: StageTimes,
) -> None:
    """Stage ``<name>: embeddings`` of a trained neural model (nothing for a baseline, a
    failed model or ``style_map`` off)."""
    entry = config.entry(name)
    if not config.style_map or outcome.error is not None or not entry.is_neural:
        return
    with times.stage(f"{name}: embeddings"):
        try:
            write_model_embeddings(
                run_dir, entry, outcome.estimator, data, features, seed=config.seed
            )
        except Exception as exc:  # an optional view of the model: the run goes on without it
            log.warning(f"  {name}: no embeddings ({type(exc).__name__}: {exc})")
            record_skip(run_dir, name, f"{type(exc).__name__}: {exc}")


def mfcc_embedding_stage(
    config: RunConfig,
    run_dir: Path,
    data: PreparedData,
    features: ExtractedFeatures,
    times: StageTimes,
) -> None:
    """Stage ``mfcc-140: embeddings`` (nothing with ``style_map`` off), and one per pretrained
    source the run embedded its clips with."""
    if config.style_map:
        with times.stage(f"{MFCC_SOURCE}: embeddings"):
            write_mfcc_embeddings(run_dir, data, features, seed=config.seed)
        for source in features.pretrained:
            with times.stage(f"{source}: embeddings"):
                write_pretrained_embeddings(run_dir, source, data, features, seed=config.seed)


def write_pretrained_embeddings(
    run_dir: Path, source: str, data: PreparedData, features: ExtractedFeatures, *, seed: int
) -> Path | None:
    """``embeddings/<source>.npz`` of a pretrained network: its penultimate layer per 3 s patch
    (an ``hf:`` source's mean hidden state per window) as ``chunks``, and their mean per clip
    (``embedding``), for the clips a model sees."""
    keys, groups, chunks = [], [], []
    for group in GROUPS:
        embeddings = features.pretrained[source].get(group)
        found = usable_keys(data, features, group)
        if embeddings is None or not len(found):
            continue
        layer = next(name for name in PRETRAINED_LAYERS if name in embeddings.layers)
        rows = embeddings.layers[layer][embeddings.rows(found)]
        finite = np.isfinite(rows.astype(np.float32)).reshape(len(rows), -1).all(axis=1)
        keys.append(found[finite])
        groups += [group] * int(finite.sum())
        chunks.append(rows[finite])
    if not chunks:
        record_skip(run_dir, source, "no clip has a finite pretrained embedding")
        return None
    per_chunk = np.concatenate(chunks)
    arrays = {"embedding": per_chunk.astype(np.float32).mean(axis=1), "chunks": per_chunk}
    return write_source(run_dir, source, _concat(keys), np.array(groups), arrays, data, seed=seed)


def write_model_embeddings(
    run_dir: Path,
    entry: ModelEntry,
    estimator,
    data: PreparedData,
    features: ExtractedFeatures,
    *,
    seed: int,
) -> Path:
    """``embeddings/<name>.npz`` of a fitted NeuralClassifier (see the module docstring)."""
    keys, groups, per_chunk = [], [], []
    for group in GROUPS:
        found, X = model_inputs_of(model_input(entry), data, features, group)
        if len(found):
            keys.append(found)
            groups += [group] * len(found)
            per_chunk.append(estimator.embed(X, chunks=True))
    chunks = np.concatenate(per_chunk)
    arrays = {"embedding": chunks.mean(axis=1), "chunks": chunks.astype(np.float16)}
    return write_source(
        run_dir, entry.name, _concat(keys), np.array(groups), arrays, data, seed=seed
    )


def write_mfcc_embeddings(
    run_dir: Path, data: PreparedData, features: ExtractedFeatures, *, seed: int
) -> Path | None:
    """``embeddings/mfcc-140.npz``: the finite MFCC-140 rows, z-scored with the training
    split's statistics (the baselines' own standardisation); None without any row."""
    keys, groups, rows = [], [], []
    for group in GROUPS:
        found, X = model_inputs_of(FeatureTableModel(), data, features, group)
        if len(found):
            finite = np.isfinite(X).all(axis=1)
            keys.append(found[finite])
            groups += [group] * int(finite.sum())
            rows.append(X[finite])
    if not rows:
        record_skip(run_dir, MFCC_SOURCE, "no clip has a finite MFCC-140 row")
        return None
    table, groups = np.concatenate(rows), np.array(groups)
    training = groups == "training"
    scaler = StandardScaler().fit(table[training] if training.any() else table)
    arrays = {"embedding": scaler.transform(table)}
    return write_source(run_dir, MFCC_SOURCE, _concat(keys), groups, arrays, data, seed=seed)


def _concat(keys: list[pd.Index]) -> np.ndarray:
    return np.array([str(k) for part in keys for k in part])


def write_source(
    run_dir: Path,
    source: str,
    keys: np.ndarray,
    groups: np.ndarray,
    arrays: dict,
    data: PreparedData,
    *,
    seed: int,
) -> Path:
    """Add the labels, years and map to ``arrays`` and write ``embeddings/<source>.npz``."""
    embedding = np.asarray(arrays["embedding"], dtype=np.float32)
    labels, label_note = clip_labels(data, keys, groups)
    year, year_source = clip_years(data, keys, groups)
    xy, map_note = tsne_map(embedding, seed=seed)
    out = {
        "keys": keys,
        "groups": groups,
        "labels": labels,
        "year": year,
        **arrays,
        "embedding": embedding,
        "source": np.array(source),
        "label_note": np.array(label_note),
        "year_source": np.array(year_source),
        "map_metric": np.array(MAP_METRIC),
        "map_note": np.array(map_note),
    }
    if xy is not None:
        out["map"] = xy
    path = RunLayout(Path(run_dir)).embedding(source)
    save_arrays(path, out)
    log.detail(f"  {source}: embeddings {embedding.shape} -> {path}")
    return path


def labelled_lookup(data: PreparedData, keys: np.ndarray, groups: np.ndarray) -> list:
    """The tracks-table index value of each clip of a split; None for a challenge clip (whose
    file id may look like a track id)."""
    by_text = {str(k): k for k in data.tracks.index}
    pairs = zip(keys, groups, strict=True)
    return [by_text.get(k) if g != CHALLENGE_GROUP else None for k, g in pairs]


def clip_labels(data: PreparedData, keys: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, str]:
    """The genre to colour each clip by ("" when none) and a note saying which it is."""
    index = labelled_lookup(data, keys, groups)
    if data.task == "genre_top":
        source, note = data.labels, "coloured by the run's genre labels"
    else:
        column = ("track", "genre_top")
        source = data.tracks[column] if column in data.tracks.columns else pd.Series(dtype=str)
        note = "multi-label run: coloured by the tracks table's genre_top"
        if source.isna().all():
            note = "multi-label run and the tracks table has no genre_top"
    found = [source.get(i) if i is not None else None for i in index]
    labels = np.array(["" if v is None or pd.isna(v) else str(v) for v in found])
    return labels, note


def clip_years(data: PreparedData, keys: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, str]:
    """The year of each clip (NaN unknown) from the first of ``YEAR_COLUMNS`` with any date."""
    index = labelled_lookup(data, keys, groups)
    for column in YEAR_COLUMNS:
        if column not in data.tracks.columns:
            continue
        years = pd.to_datetime(data.tracks[column], errors="coerce").dt.year
        year = np.array([years.get(i) if i is not None else None for i in index], dtype=float)
        if np.isfinite(year).any():
            return year, ".".join(column)
    return np.full(len(keys), np.nan), ""


def tsne_map(embedding: np.ndarray, *, seed: int) -> tuple[np.ndarray | None, str]:
    """t-SNE coordinates (n, 2) float32 of the standardised embedding, or None and why."""
    n = len(embedding)
    if n < MIN_MAP_CLIPS:
        return None, f"{n} clips; t-SNE needs at least {MIN_MAP_CLIPS}"
    tsne = TSNE(
        n_components=2,
        perplexity=min(30.0, (n - 1) / 3),
        init="pca",
        metric=MAP_METRIC,
        random_state=seed,
    )
    with one_thread_below(n):
        return tsne.fit_transform(standardised(embedding)).astype(np.float32), ""


def record_skip(run_dir: Path, source: str, reason: str) -> None:
    """Write why ``source`` has no embeddings file (the style map's SKIP line)."""
    write_json_atomic(RunLayout(Path(run_dir)).embedding_skipped(source), {"reason": reason[:300]})
