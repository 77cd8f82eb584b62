"""Clip-level representations of the patch embeddings: what a probe or a check reads.

==================  ====================================================  ===============
representation      per clip                                              width (musicnn)
==================  ====================================================  ===============
``taggram``         mean over patches of the tag probabilities            50
``penultimate``     mean over patches of the penultimate layer            200
``pool``            mean over patches of ``mean_pool``, then max over     1506
                    patches of ``max_pool`` (the backend's own input)
``pool5``           (vgg) mean over patches of the flattened last pool    source's width
``hidden_last``     (``hf:``) mean over windows of the last hidden state   hidden size
``hidden_mean``     (``hf:``) mean over windows of the mean hidden state   hidden size
==================  ====================================================  ===============
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.errors import ParameterError
from harness.pretrained.store import EmbeddingSet
from harness.registry import HF_REPRESENTATIONS

REPRESENTATIONS = ("taggram", "penultimate", "pool", "pool5", *HF_REPRESENTATIONS)


def layers_of(representation: str) -> tuple[str, ...]:
    """The stored layers a representation is computed from."""
    if representation == "pool":
        return ("mean_pool", "max_pool")
    if representation not in REPRESENTATIONS:
        raise ParameterError(
            f"unknown representation {representation!r}; expected one of "
            f"{', '.join(REPRESENTATIONS)}"
        )
    return (representation,)


def clip_values(layers: dict[str, np.ndarray], representation: str) -> np.ndarray:
    """One clip-level vector per row of patch embeddings.

    Parameters
    ----------
    layers : dict
        layer -> array (n_clips, n_patches, dim).

    Returns
    -------
    np.ndarray, shape (n_clips, width), float32
    """
    if representation == "pool":
        mean = np.asarray(layers["mean_pool"], np.float32).mean(axis=1)
        peak = np.asarray(layers["max_pool"], np.float32).max(axis=1)
        return np.concatenate([mean, peak], axis=1)
    (layer,) = layers_of(representation)
    return np.asarray(layers[layer], np.float32).mean(axis=1)


def representation_table(
    embeddings: EmbeddingSet, keys: pd.Index, representation: str, *, columns: list | None = None
) -> pd.DataFrame:
    """``representation`` of ``keys`` as a table: index the keys, columns
    (source, representation, feature) with feature the tag names (``columns``) or 0..width-1.
    """
    rows = embeddings.rows(keys)
    picked = {layer: embeddings.layers[layer][rows] for layer in layers_of(representation)}
    values = clip_values(picked, representation)
    names = columns if columns is not None else [str(i) for i in range(values.shape[1])]
    index = pd.MultiIndex.from_tuples(
        [(embeddings.source, representation, str(name)) for name in names],
        names=["source", "representation", "feature"],
    )
    return pd.DataFrame(values, index=keys, columns=index)
