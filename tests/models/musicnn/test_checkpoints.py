"""Reading the musicnn checkpoints: the tensor-bundle reader, the pinned digests, the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.errors import DataError
from models.musicnn.musicnn_net import MusiCNN
from models.musicnn.tensor_bundle import read_tensor_bundle
from models.musicnn.vgg_net import MusicnnVGG
from models.musicnn.weights import load_pretrained, package_dir


@pytest.fixture(scope="module")
def installed() -> Path:
    return package_dir()


def test_reader_gives_every_variable_with_its_shape(installed):
    tensors = read_tensor_bundle(f"{installed}/MSD_musicnn/")
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert tensors["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert tensors["dense_1/kernel"].shape == (200, 50)
    assert tensors["batch_normalization_9/moving_variance"].shape == (1506,)
    assert all(v.dtype == np.float32 for v in tensors.values())
    assert not tensors["conv2d/kernel"].flags.writeable  # views of the file, never executed


def _copy_checkpoint(installed: Path, tmp_path: Path, name: str = "MSD_musicnn") -> Path:
    shutil.copytree(installed / name, tmp_path / name)
    return tmp_path / name


def test_reader_refuses_a_file_that_is_not_an_index(installed, tmp_path):
    folder = _copy_checkpoint(installed, tmp_path)
    (folder / ".index").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match=r"\.index: not a readable tensor-bundle index \(no table"):
        read_tensor_bundle(f"{folder}/")


def test_reader_refuses_a_truncated_index_and_data(installed, tmp_path):
    folder = _copy_checkpoint(installed, tmp_path)
    index = (folder / ".index").read_bytes()
    (folder / ".index").write_bytes(index[:-10])
    with pytest.raises(DataError, match=r"\.index: not a readable tensor-bundle index"):
        read_tensor_bundle(f"{folder}/")
    (folder / ".index").write_bytes(index)
    data = folder / ".data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(DataError, match="the checkpoint is damaged"):
        read_tensor_bundle(f"{folder}/")


def test_an_altered_checkpoint_is_refused_with_what_to_do(installed, tmp_path):
    folder = _copy_checkpoint(installed, tmp_path)
    data = folder / ".data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[5000] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"sha256 .* the checkpoint was altered: reinstall"):
        load_pretrained("MSD_musicnn", cache_dir=tmp_path / "cache", package=tmp_path)


def test_a_missing_checkpoint_says_what_to_install(tmp_path):
    with pytest.raises(
        DataError, match=r'install them with "pip install --no-deps musicnn==0.1.0"'
    ):
        load_pretrained("MTT_vgg", cache_dir=tmp_path, package=tmp_path)


def test_converted_weights_are_cached_and_read_back(installed, tmp_path, monkeypatch):
    first = load_pretrained("MTT_musicnn", cache_dir=tmp_path)
    cached = list((tmp_path / "musicnn").glob("MTT_musicnn-*.pt"))
    assert len(cached) == 1

    def no_checkpoint(prefix):
        raise AssertionError("the checkpoint was read again")

    monkeypatch.setattr("models.musicnn.weights.read_tensor_bundle", no_checkpoint)
    second = load_pretrained("MTT_musicnn", cache_dir=tmp_path)
    x = torch.randn(2, 187, 96)
    with torch.inference_mode():
        assert torch.equal(first(x).logits, second(x).logits)
    assert second.weights_sha256.startswith(cached[0].stem.split("-")[1])


def test_a_damaged_cache_file_is_converted_again(tmp_path):
    load_pretrained("MSD_vgg", cache_dir=tmp_path)
    (cached,) = (tmp_path / "musicnn").glob("MSD_vgg-*.pt")
    cached.write_bytes(b"not a torch file")
    network = load_pretrained("MSD_vgg", cache_dir=tmp_path)
    assert network.output.weight.abs().sum() > 0


def test_shapes_of_both_networks():
    with torch.inference_mode():
        out = MusiCNN().eval()(torch.randn(3, 187, 96))
        assert out.logits.shape == (3, 50)
        assert {k: tuple(v.shape) for k, v in out.embeddings.items()} == {
            "mean_pool": (3, 753),
            "max_pool": (3, 753),
            "penultimate": (3, 200),
        }
        assert MusiCNN().eval()(torch.randn(1, 400, 96)).logits.shape == (1, 50)  # any length
        vgg = MusicnnVGG().eval()(torch.randn(2, 187, 96))
        assert vgg.embeddings["pool5"].shape == (2, 256)
    with pytest.raises(ValueError, match="patches of 187 frames"):
        MusicnnVGG().eval()(torch.randn(1, 200, 96))
