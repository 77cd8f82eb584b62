"""Cutting spectrograms into patches and pooling patch embeddings into clip vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.features.config import musicnn_logmel
from harness.pretrained.patches import PATCH_FRAMES, cut_patches, n_patches
from harness.pretrained.store import EmbeddingSet
from harness.pretrained.tables import clip_values, representation_table


def test_patches_drop_the_tail_as_the_original_does():
    spec = np.arange(96 * 600, dtype=np.float32).reshape(96, 600)
    patches = cut_patches(spec)
    assert patches.shape == (3, PATCH_FRAMES, 96)
    assert np.array_equal(patches[1], spec[:, PATCH_FRAMES : 2 * PATCH_FRAMES].T)


def test_a_clip_shorter_than_a_patch_is_repeated_to_fill_one():
    spec = np.arange(96 * 50, dtype=np.float32).reshape(96, 50)
    patches = cut_patches(spec)
    assert patches.shape == (1, PATCH_FRAMES, 96)
    assert np.array_equal(patches[0, 50:100], spec.T)
    assert n_patches(50) == 1


def test_musicnn_spectrogram_shape_follows_the_clip_duration():
    assert musicnn_logmel(9.5).shape == (96, 594)
    assert n_patches(musicnn_logmel(29.0).n_frames) == 9


def test_pool_is_the_patch_mean_of_mean_pool_and_the_patch_max_of_max_pool():
    layers = {
        "mean_pool": np.array([[[1.0, 2.0], [3.0, 4.0]]]),
        "max_pool": np.array([[[1.0, 5.0], [3.0, 0.0]]]),
    }
    assert np.allclose(clip_values(layers, "pool"), [[2.0, 3.0, 3.0, 5.0]])


def test_representation_table_rows_follow_the_keys():
    index = pd.DataFrame({"row": [0, 1, 2]}, index=pd.Index([10, 20, 30], name="key"))
    penultimate = np.arange(3 * 2 * 4, dtype=np.float16).reshape(3, 2, 4)
    embeddings = EmbeddingSet("musicnn-msd", {"penultimate": penultimate}, index)
    table = representation_table(embeddings, pd.Index([30, 10]), "penultimate")
    assert list(table.index) == [30, 10]
    assert table.columns[0] == ("musicnn-msd", "penultimate", "0")
    assert np.allclose(table.iloc[0], penultimate[2].astype(np.float32).mean(axis=0))
