"""A small run with its data checks and one model's predictions, for the review page tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def review_run(synth_root, tmp_path_factory):
    """(run_dir, cache_dir) of a quick mfcc-logreg run of the tiny synthetic set, data checks
    on (its planted duplicates and audio faults are in checks.json)."""
    from harness.config.run_config import RunConfig
    from harness.run.pipeline import run_pipeline

    tmp = tmp_path_factory.mktemp("review-run")
    config = RunConfig(
        root=synth_root,
        models=["mfcc-logreg"],
        out=tmp / "runs",
        submissions_dir=tmp / "submissions",
        cache_dir=tmp / "cache",
        quick=True,
        checks=True,
        n_jobs=1,
        run_id="review",
    )
    return run_pipeline(config), tmp / "cache"
