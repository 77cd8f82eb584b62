"""Shared fixtures: a tiny synthetic FMA generated once per test session.

``synth_root`` is the root of a generated set in the real FMA layout (see
:mod:`harness.data.synth.generate`): 8 genres x 8 tracks of 4 s mono 22,050 Hz mp3s (every split
populated), 4 metadata-only multi-root tracks, 6 challenge clips, and one planted fault of each
kind (empty, short, silent, corrupt, 2 duplicates, 2 mislabels) listed in synthetic_truth.csv.

"Short" for this set: decode with ``DecodeConfig(min_duration=synth_config.min_duration)``
(0.95 x 4 s = 3.8 s; whole clips decode to 4.0 s, planted short ones to 1.3-2.7 s), or use
the ``synth_decode_config`` fixture.
"""

from __future__ import annotations

import pytest

SYNTH_FIXTURE = {
    "subset": "small",
    "n_tracks": 64,
    "duration": 4.0,
    "sr": 22050,
    "channels": 1,
    "seed": 0,
    "n_test": 6,
    "n_multi_root": 4,
}


@pytest.fixture(scope="session")
def synth_config(tmp_path_factory):
    """The SynthConfig of the session's tiny synthetic set (root included)."""
    from harness.data.synth.generate import SynthConfig

    return SynthConfig(root=tmp_path_factory.mktemp("synth") / "fma", **SYNTH_FIXTURE)


@pytest.fixture(scope="session")
def synth_root(synth_config):
    """Path of the tiny synthetic FMA, generated once per session (a few seconds)."""
    from harness.data.synth.generate import generate

    generate(synth_config, n_jobs=2, progress=False)
    return synth_config.root


@pytest.fixture(scope="session")
def synth_decode_config(synth_config):
    """DecodeConfig whose min_duration matches the tiny set's 4 s clips (3.8 s)."""
    from harness.data.audio import DecodeConfig

    return DecodeConfig(min_duration=synth_config.min_duration)


# A small run shared by the bundle, predict and run tests: mfcc-logreg and a tiny cnn, trained
# once per session on the tiny synthetic set, each saved with its model bundle.
# the cnn made tiny, as in test_run_multilabel.SMALL_NEURAL
TINY_CNN = {"chunk_frames": 64, "n_eval_chunks": 2, "model_params": {"channels": [8, 8, 8, 8]}}


@pytest.fixture(scope="session")
def bundle_run(synth_root, tmp_path_factory):
    """(run_dir, submissions folder of the run) of a quick run of mfcc-logreg and cnn.

    The cnn's model-sanity checks (a minute of extra training, nothing to do with bundles)
    are skipped."""
    from harness.config.run_config import RunConfig
    from harness.run import model_training
    from harness.run.pipeline import run_pipeline

    tmp = tmp_path_factory.mktemp("bundle-run")
    config = RunConfig(
        root=synth_root,
        models=["mfcc-logreg", "cnn"],
        out=tmp / "runs",
        submissions_dir=tmp / "submissions",
        cache_dir=tmp / "cache",
        quick=True,
        checks=False,
        n_jobs=1,
        run_id="bundles",
        params={"cnn": TINY_CNN},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_training, "write_model_sanity", lambda *args, **kwargs: None)
        run_dir = run_pipeline(config)
    return run_dir, tmp / "submissions" / "bundles"


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory):
    """A folder with a tiny randomly initialised wav2vec2 model (28k parameters) and its
    feature extractor, written by ``save_pretrained`` (safetensors) as ``hf:PATH`` reads it:
    built here, nothing downloaded."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    folder = tmp_path_factory.mktemp("tiny-wav2vec2")
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(folder)
    return folder
