"""A small run shared by the bundle and predict tests: mfcc-logreg and a tiny cnn, trained
once per session on the tiny synthetic set, each saved with its model bundle."""

from __future__ import annotations

import pytest

# the cnn made tiny, as in test_run_multilabel.SMALL_NEURAL
TINY_CNN = {"chunk_frames": 64, "n_eval_chunks": 2, "model_params": {"channels": [8, 8, 8, 8]}}


@pytest.fixture(scope="session")
def bundle_run(synth_root, tmp_path_factory):
    """(run_dir, submissions folder of the run) of a quick run of mfcc-logreg and cnn.

    The cnn's model-sanity checks (a minute of extra training, nothing to do with bundles)
    are skipped."""
    from harness.pipeline import model_training
    from harness.pipeline.config import RunConfig
    from harness.pipeline.run import run_pipeline

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
