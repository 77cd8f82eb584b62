"""Log-mels held in the device's memory give the DataLoader path's batches, and the same fit.

CI has no GPU: these run the resident path on the CPU (``data_on_device=True``), where the batches
and a whole fit must match the DataLoader path exactly; the batch test also runs on a GPU when one
is visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from band_data import band_dataset

from harness.errors import ParameterError
from harness.training import loaders, resident
from harness.training.chunks import ArraySource, RowSubset
from harness.training.distributed import DistInfo
from harness.training.estimator import NeuralClassifier

torch.set_num_threads(1)
CPU = torch.device("cpu")
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")),
]


def _logmels(n=10, n_mels=6, frames=50, seed=0):
    return np.random.default_rng(seed).normal(-40, 12, size=(n, n_mels, frames)).astype(np.float16)


def _batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def _same_batches(a, b):
    assert len(a) == len(b) and len(a) > 0
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        xa, ya = xa.cpu(), ya.cpu()
        assert xa.dtype == xb.dtype == torch.float32
        torch.testing.assert_close(xa, xb, rtol=0, atol=0)
        torch.testing.assert_close(ya, yb, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("frames", "targets", "info"),
    [
        (50, np.arange(10) % 3, None),  # crops inside the clip
        (12, np.arange(10) % 3, None),  # clips shorter than a chunk: tiled
        (50, (np.arange(30).reshape(10, 3) % 4 == 0).astype(np.float32), None),  # multi-hot
        (50, np.arange(10) % 3, DistInfo(rank=1, world_size=2)),  # one rank's DDP shard
    ],
)
@pytest.mark.parametrize("device", DEVICES)
def test_resident_training_batches_are_the_dataloaders(frames, targets, info, device):
    source = ArraySource(_logmels(frames=frames))
    on_device = resident.to_device(source, torch.device(device))
    kw = dict(chunk_frames=20, batch_size=4, num_workers=0, random_state=7, info=info)
    plain = loaders.train_loader(source, targets, **kw)
    cut = loaders.train_loader(on_device, targets, **kw)
    assert isinstance(cut.loader, resident.ResidentTrainBatches)
    for epoch in (1, 2):
        plain.set_epoch(epoch)
        cut.set_epoch(epoch)
        assert len(cut.loader) == len(plain.loader)
        _same_batches(_batches(cut.loader), _batches(plain.loader))
    cut.set_epoch(1)
    first = _batches(cut.loader)
    cut.set_epoch(2)
    assert not torch.equal(first[0][0], _batches(cut.loader)[0][0])  # a new epoch, new batches
    assert first[0][0].device.type == device


@pytest.mark.parametrize("frames", [50, 12])
def test_resident_evaluation_chunks_are_the_dataloaders(frames):
    X = _logmels(n=7, frames=frames)
    kw = dict(chunk_frames=20, n_eval_chunks=3, batch_size=4, num_workers=0, n_mels=6)
    plain = [c for c in loaders.eval_loader(X, **kw)]
    cut = [c for c in loaders.eval_loader(resident.to_device(X, CPU), **kw)]
    assert (
        [c.shape for c in cut] == [c.shape for c in plain] == [(2, 3, 6, 20)] * 3 + [(1, 3, 6, 20)]
    )
    for a, b in zip(cut, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_copy_in_slices_keeps_the_stored_dtype_and_drops_rows_of_a_subset(tmp_path, monkeypatch):
    X = _logmels(n=9)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float16, shape=X.shape)
    mm[:] = X
    mm.flush()
    cache = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(resident, "COPY_SLICE_BYTES", 2 * 6 * 50 * 2)  # two clips per slice
    subset = resident.to_device(ArraySource(RowSubset(cache, [8, 0, 3, 5, 2])), CPU)
    assert subset.tensor.dtype == torch.float16 and subset.shape == (5, 6, 50)
    np.testing.assert_array_equal(subset.tensor.numpy(), X[[8, 0, 3, 5, 2]])
    wide = resident.to_device(X.astype(np.float64), CPU)  # not a stored dtype: float32
    assert wide.tensor.dtype == torch.float32
    assert resident.stored_bytes(ArraySource(cache)) == X.size * 2
    assert resident.stored_bytes(X.astype(np.float64)) == X.size * 4


def test_when_the_log_mels_go_to_the_device(monkeypatch):
    assert not resident.wanted("auto", CPU, nbytes=1)  # the CPU path is the DataLoader's
    assert resident.wanted(True, CPU, nbytes=10**15) and not resident.wanted(False, CPU, nbytes=1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    gpu = torch.device("cuda")
    assert resident.wanted("auto", gpu, nbytes=500)  # half of the free memory at most
    assert not resident.wanted("auto", gpu, nbytes=501)
    with pytest.raises(ParameterError, match="data_on_device='gpu'; expected 'auto', true or"):
        resident.wanted("gpu", gpu, nbytes=1)
    with pytest.raises(ParameterError, match="expected a 3-D array"):  # before sizing it up
        resident.place([[[1.0, 2.0]]], setting="auto", device=CPU)
    kept = resident.place([_logmels()], setting="auto", device=CPU)
    assert isinstance(kept[0], ArraySource)  # the CPU keeps the DataLoader path


def test_a_fit_on_resident_log_mels_is_the_dataloader_fit():
    X, y = band_dataset(20, seed=0)
    Xv, yv = band_dataset(9, seed=1)
    params = dict(
        model="cnn",
        model_params={"channels": (8, 8, 8, 8)},
        chunk_frames=64,
        n_eval_chunks=2,
        batch_size=8,
        epochs=2,
        lr=1e-2,
        num_threads=1,
        progress=False,
        spec_augment=True,
        device="cpu",
    )
    plain = NeuralClassifier(data_on_device=False, **params).fit(X, y, X_val=Xv, y_val=yv)
    cut = NeuralClassifier(data_on_device=True, **params).fit(X, y, X_val=Xv, y_val=yv)
    pd.testing.assert_frame_equal(
        cut.history_.drop(columns="seconds"), plain.history_.drop(columns="seconds")
    )
    np.testing.assert_array_equal(cut.predict_proba(Xv), plain.predict_proba(Xv))
    np.testing.assert_array_equal(cut.embed(Xv), plain.embed(Xv))
