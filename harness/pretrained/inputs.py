"""The pretrained stage of a run: embed every clip with the sources its models read, and hand
those models their input table.

:func:`embed_clips` runs after feature extraction (the ``musicnn-mel`` spectrograms are
cached by then) and fills :attr:`ExtractedFeatures.pretrained`; :func:`pretrained_table` is
what a model that consumes embeddings gets for a group's clips.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from harness import log
from harness.errors import DataError
from harness.features.extracted import ExtractedFeatures
from harness.pretrained.embedder import make_embedder
from harness.pretrained.sources import get_source, source_tags
from harness.pretrained.store import embed_group
from harness.pretrained.tables import layers_of, representation_table


def check_representations(pairs: Iterable[tuple[str, str]]) -> None:
    """Every (source, representation) pair names a known source and a layer it offers."""
    for source_name, representation in pairs:
        source = get_source(source_name)
        missing = [layer for layer in layers_of(representation) if layer not in source.layers]
        if missing:
            raise DataError(
                f"pretrained source {source_name} has no {representation!r} representation "
                f"(its layers: {', '.join(source.layers)})"
            )


def embed_clips(
    features: ExtractedFeatures,
    pairs: Iterable[tuple[str, str]],
    *,
    groups: Iterable[str],
    clips: pd.DataFrame | None = None,
    device: str = "auto",
) -> ExtractedFeatures:
    """Embed the clips of ``groups`` with every source of ``pairs`` (cached; resumable).

    ``clips`` (the run's: key -> ``path``, ``group``) is what an ``hf:`` source decodes.
    Returns ``features`` with ``pretrained`` (source -> group -> EmbeddingSet) and
    ``representations`` set.
    """
    pairs = tuple(dict.fromkeys((str(s), str(r)) for s, r in pairs))
    check_representations(pairs)
    groups = list(groups)
    pretrained: dict = {}
    for source_name in dict.fromkeys(source for source, _ in pairs):
        source = get_source(source_name)
        embedder = make_embedder(source, cache_dir=features.cache_dir, device=device)
        log.info(f"Embedding {', '.join(groups)} with {source_name} on {embedder.device}")
        pretrained[source_name] = {
            group: embed_group(
                Path(features.cache_dir),
                group=group,
                logmel=features.logmel,
                embedder=embedder,
                clips=clips,
                status=features.status.get("status"),
            )
            for group in groups
        }
    features.pretrained = pretrained
    features.representations = pairs
    return features


def pretrained_table(features: ExtractedFeatures, group: str, keys: pd.Index) -> pd.DataFrame:
    """Every representation the run's models read, for ``keys`` of ``group``: float32 table
    (len(keys), n_columns), columns (source, representation, feature)."""
    if not features.representations:
        raise DataError(
            "no pretrained embeddings were computed for this run; a model that consumes "
            "embeddings needs --features audio (the musicnn spectrograms)"
        )
    tables = []
    for source_name, representation in features.representations:
        embeddings = features.pretrained[source_name][group]
        names = source_tags(get_source(source_name)) if representation == "taggram" else None
        tables.append(representation_table(embeddings, keys, representation, columns=names))
    return pd.concat(tables, axis=1)
