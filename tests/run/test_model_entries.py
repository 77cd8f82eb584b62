"""A run looks each of its models up in the registry once: every stage asks the configuration
(:meth:`harness.config.schema.RunConfig.entry`), which keeps what it found."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.config import schema
from harness.config.run_config import RunConfig
from harness.run import model_run
from harness.run.pipeline import run_pipeline


def test_a_run_resolves_each_model_entry_once(synth_root, tmp_path, monkeypatch):
    looked_up = Counter()
    registry_lookup = schema.get_entry

    def counting(name):
        looked_up[name] += 1
        return registry_lookup(name)

    def outside_the_run(name):
        pytest.fail(f"{name}: looked up again by the model stage, not taken from the run")

    monkeypatch.setattr(schema, "get_entry", counting)
    monkeypatch.setattr(model_run, "get_entry", outside_the_run)
    config = RunConfig(
        root=synth_root,
        models=["prior", "mfcc-logreg"],
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        cache_dir=tmp_path / "cache",
        quick=True,
        checks=False,
        style_map=False,
        n_jobs=1,
    )
    run_pipeline(config)
    assert looked_up == Counter({"prior": 1, "mfcc-logreg": 1})


def test_the_entry_is_the_registry_entry():
    config = RunConfig(models=["cnn"])
    assert config.entry("cnn") is config.entry("cnn")
    assert config.entry("cnn") == schema.get_entry("cnn")
    copied = RunConfig(**vars(config))  # a copy by its fields: the kept entries are not one
    assert copied.to_dict() == config.to_dict()
