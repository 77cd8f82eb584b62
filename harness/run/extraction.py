"""The feature stage of a run: extract (or reuse) the cached features every model needs, or read
the official ``features.csv`` when the run uses no audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness import features as feats
from harness.bundles.inputs import model_input
from harness.config.run_config import RunConfig
from harness.data.prepared import PreparedData, decode_config_for
from harness.errors import DataError
from harness.features.extracted import ExtractedFeatures
from harness.pretrained.inputs import embed_clips
from harness.registry import pretrained_inputs


def official_features(data: PreparedData) -> ExtractedFeatures:
    """MFCC-140 from the official features.csv: no audio, every listed track ``ok``."""
    if not data.layout.features_csv.exists():
        raise DataError(
            f"{data.layout.features_csv}: not found; --features official needs the features.csv "
            "of fma_metadata.zip (a synthetic set has none: use --features audio)"
        )
    table = feats.official_features(data.layout.features_csv, feature_set="mfcc")
    table = table.reindex(data.clips.index)
    usable = np.isfinite(table.to_numpy()).all(axis=1)
    status = pd.DataFrame(
        {"group": data.clips["group"], "status": np.where(usable, "ok", "missing")},
        index=data.clips.index,
    )
    return ExtractedFeatures(status=status, cache_dir=Path("."), logmel=None, table=table)


SPECTROGRAM_ORDER = ("mfcc", "logmel", "musicnn-mel")


def feature_sets_for(config: RunConfig) -> tuple[str, ...]:
    """The cached feature sets the run's models read: some of :data:`SPECTROGRAM_ORDER`."""
    wanted = {s for name in config.models for s in model_input(config.entry(name)).feature_sets}
    return tuple(s for s in SPECTROGRAM_ORDER if s in wanted)


def pretrained_pairs(config: RunConfig) -> list[tuple[str, str]]:
    """The (source, representation) pairs the run's embeddings models read, each once."""
    pairs = []
    for name in config.models:
        pairs += pretrained_inputs(config.entry(name), config.params.get(name))
    return list(dict.fromkeys(pairs))


def extract_features(config: RunConfig, data: PreparedData) -> ExtractedFeatures:
    """Run (or reuse) the feature cache for every clip, with the feature sets the models read."""
    if config.features == "official":
        return official_features(data)
    sets = feature_sets_for(config)
    decode = decode_config_for(data.layout.root, min_duration=config.min_duration, data=data)
    logmel = feats.logmel_for_clips(decode.min_duration)
    status = feats.extract(
        data.clips,
        cache_dir=config.cache_dir,
        feature_sets=sets,
        logmel=logmel,
        decode=decode,
        n_jobs=config.n_jobs,
        scheduler=config.scheduler,
    )
    features = ExtractedFeatures(
        status=status, cache_dir=Path(config.cache_dir), logmel=logmel, decode=decode
    )
    pairs = pretrained_pairs(config)
    if pairs:
        groups = list(dict.fromkeys(data.clips["group"].astype(str)))
        embed_clips(features, pairs, groups=groups, clips=data.clips, device=config.device)
    return features


def cache_keys(features: ExtractedFeatures) -> dict[str, str]:
    """The feature cache keys the run read (one per feature set)."""
    if features.table is not None:
        return {"mfcc": "official features.csv"}
    return feats.cache_keys(features.cache_dir, logmel=features.logmel)
