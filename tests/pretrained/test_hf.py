"""Hugging Face embedders (``hf:PATH_OR_ID``): windows, loading, refusals, the registry entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import ParameterError
from harness.pretrained.embedder import make_embedder
from harness.pretrained.hf import HFEmbedder, hf_source, waveform_rate, windows
from harness.pretrained.sources import get_source
from harness.registry import get_entry, pretrained_inputs, training_defaults
from harness.run_layout import file_name, name_of


def test_windows_are_consecutive_and_drop_the_remainder():
    y = np.arange(23, dtype=np.float32)
    out = windows(y, sr=2, seconds=5.0)  # 10 samples a window
    assert out.shape == (2, 10)
    assert np.array_equal(out[1], np.arange(10, 20))
    short = windows(np.ones(4, np.float32), sr=2, seconds=5.0)
    assert short.shape == (1, 10) and short[0, :4].sum() == 4 and short[0, 4:].sum() == 0


def test_an_hf_name_is_a_source_and_a_probe_on_it():
    source = get_source("hf:org/model")
    assert source.kind == "waveform" and source.checkpoint == "org/model"
    entry = get_entry("hf:org/model")
    assert entry.consumes == "embeddings"
    pairs = pretrained_inputs(entry)
    assert pairs == [("hf:org/model", "hidden_last"), ("hf:org/model", "hidden_mean")]
    assert training_defaults(entry)["candidates"] == tuple(pairs)
    # the run's [params] still win over the entry's candidates
    chosen = pretrained_inputs(entry, {"candidates": [["hf:org/model", "hidden_mean"]]})
    assert chosen == [("hf:org/model", "hidden_mean")]
    with pytest.raises(ParameterError, match="names no Hugging Face model"):
        get_entry("hf:")


def test_a_model_name_with_slashes_is_one_file_name():
    name = "hf:/data/m-a-p/MERT v1"
    assert "/" not in file_name(name) and name_of(file_name(name)) == name
    assert file_name("mfcc-logreg") == "mfcc-logreg"
    assert file_name("my_pkg.models:build") == "my_pkg.models:build"


def test_the_embedder_gives_both_layers_per_window(tiny_hf_model):
    embedder = make_embedder(get_source(f"hf:{tiny_hf_model}"), cache_dir=None, device="cpu")
    assert isinstance(embedder, HFEmbedder) and embedder.sampling_rate == 16000
    rng = np.random.default_rng(0)
    units = embedder.units(rng.uniform(-0.5, 0.5, 16000 * 12).astype(np.float32))
    assert units.shape == (2, 80000)
    out = embedder.embed(units)
    assert set(out) == {"hidden_last", "hidden_mean"}
    assert out["hidden_last"].shape == (2, 32) and np.isfinite(out["hidden_mean"]).all()
    assert not np.allclose(out["hidden_last"], out["hidden_mean"])
    again = make_embedder(get_source(f"hf:{tiny_hf_model}"), cache_dir=None, device="cpu")
    assert again.weights_digest == embedder.weights_digest and len(embedder.weights_digest) == 64
    assert np.array_equal(again.embed(units)["hidden_last"], out["hidden_last"])
    assert waveform_rate([f"hf:{tiny_hf_model}"]) == 16000
    assert waveform_rate(["musicnn-msd"]) is None
    with pytest.raises(ParameterError, match="cannot be bundled"):
        waveform_rate([f"hf:{tiny_hf_model}", "musicnn-msd"])


def test_a_folder_that_is_no_model_is_one_line(tmp_path):
    with pytest.raises(ParameterError, match="cannot load it as a Hugging Face audio model"):
        HFEmbedder(hf_source(f"hf:{tmp_path}"), device="cpu")


def test_pickled_weights_and_remote_code_are_refused(tiny_hf_model, tmp_path):
    """A model whose weights are a pickle (pytorch_model.bin) or that asks for its own code
    (auto_map, trust_remote_code) is refused, and the pickle's code never runs."""
    import shutil

    import torch

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_hf_model, pickled)
    (pickled / "model.safetensors").unlink()
    torch.save({"payload": Payload()}, pickled / "pytorch_model.bin")
    with pytest.raises(ParameterError, match="cannot load"):
        HFEmbedder(hf_source(f"hf:{pickled}"), device="cpu")
    assert not marker.exists()

    remote = tmp_path / "remote"
    shutil.copytree(tiny_hf_model, remote)
    (remote / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w')\n")
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (remote / "config.json").write_text(json.dumps(config))
    # a known model type asking for its own code: transformers' own class, the file not run
    embedder = HFEmbedder(hf_source(f"hf:{remote}"), device="cpu")
    assert type(embedder.network).__module__.startswith("transformers.")
    assert not marker.exists()
    # a model type only its own code defines: refused, the file not run
    config["model_type"] = "evil"
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(ParameterError, match="cannot load"):
        HFEmbedder(hf_source(f"hf:{remote}"), device="cpu")
    assert not marker.exists()
