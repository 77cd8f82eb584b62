"""The PyTorch port against the original musicnn (TensorFlow), on the stored reference.

``tests/fixtures/musicnn/reference.npz`` was made by ``tools/musicnn_reference.py`` in a
scratch venv with tensorflow-cpu 2.15.1 and musicnn 0.1.0 (see ``reference.json``): three
6.5 s clips at 16 kHz, their original front-end patches and, for each of the four checkpoints,
the tag probabilities, logits and embedding layers the original graph computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.features.config import musicnn_logmel
from harness.features.logmel import logmel_spectrogram
from harness.pretrained.patches import cut_patches
from models.musicnn.weights import load_pretrained

REFERENCE = Path(__file__).parents[2] / "fixtures" / "musicnn" / "reference.npz"
TOLERANCE = 1e-4  # the bound on every output, absolute
LAYERS = {
    "MSD_musicnn": ("mean_pool", "max_pool", "penultimate"),
    "MTT_musicnn": ("mean_pool", "max_pool", "penultimate"),
    "MSD_vgg": ("pool5",),
    "MTT_vgg": ("pool5",),
}


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as found:
        return {key: found[key] for key in found.files}


@pytest.mark.parametrize("checkpoint", list(LAYERS))
def test_port_matches_the_original_on_every_output(checkpoint, reference, tmp_path):
    network = load_pretrained(checkpoint, cache_dir=tmp_path)
    with torch.inference_mode():
        out = network(torch.from_numpy(reference["patches"].astype(np.float32)))
    outputs = {"taggram": out.probabilities, "logits": out.logits, **out.embeddings}
    for name in ("taggram", "logits", *LAYERS[checkpoint]):
        expected = reference[f"{checkpoint}__{name}"]
        found = outputs[name].numpy()
        assert found.shape == expected.shape, name
        assert np.abs(found - expected).max() <= TOLERANCE, name


def test_the_loud_clip_stays_finite_as_in_the_original(reference, tmp_path):
    network = load_pretrained("MSD_musicnn", cache_dir=tmp_path)
    audio = reference["loud_audio"].astype(np.float32) / 32768
    config = musicnn_logmel(len(audio) / 16000)
    spec, _ = logmel_spectrogram(audio, sr=16000, config=config)
    with torch.inference_mode():
        tags = network(torch.from_numpy(cut_patches(spec))).probabilities.numpy()
    expected = reference["MSD_musicnn__loud_taggram"]
    assert np.isfinite(tags).all() and np.isfinite(expected).all()
    assert np.abs(tags - expected).max() < 1e-2


def test_harness_front_end_is_the_original_to_float16_rounding(reference):
    """The cache's spectrogram (float32 log, stored as float16) against the original's
    (float16 power, float32 log): the same 96 x 187 patches within float16 resolution."""
    audio = reference["audio"].astype(np.float32) / 32768
    patches = []
    for clip in audio:
        spec, _ = logmel_spectrogram(clip, sr=16000, config=musicnn_logmel(len(clip) / 16000))
        patches.append(cut_patches(spec))
    ours = np.concatenate(patches)
    assert ours.shape == reference["patches"].shape
    error = np.abs(ours - reference["patches"])
    assert error.max() < 5e-3  # float16 steps are 2e-3 to 4e-3 at values 4 to 8
    assert error.mean() < 5e-4
