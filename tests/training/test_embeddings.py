"""Track embeddings (harness/training/embeddings.py, NeuralClassifier.embed): the final linear
layer's input, read by a hook that leaves the predictions as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from band_data import band_dataset
from torch import nn

from harness.training import loaders, steps
from harness.training.embeddings import NoFinalLinearError, chunk_embeddings, final_linear
from harness.training.estimator import NeuralClassifier

torch.set_num_threads(1)


def fitted(task="single"):
    X, y = band_dataset(24, seed=0, frames=120)
    Xv, yv = band_dataset(9, seed=1, frames=120)
    if task == "multi":
        y = (y[:, None] == np.array(["blues", "jazz", "rock"])).astype(np.int8)
        yv = (yv[:, None] == np.array(["blues", "jazz", "rock"])).astype(np.int8)
    clf = NeuralClassifier(
        "cnn",
        model_params={"channels": (8, 8, 8, 8)},
        chunk_frames=64,
        n_eval_chunks=3,
        batch_size=8,
        epochs=2,
        num_threads=1,
        progress=False,
        task=task,
        # the tests below apply the head to CPU tensors in float32, so the net runs that way
        # too: on the CPU (on a GPU machine as well) and without mixed precision (an AMX CPU)
        device="cpu",
        amp=False,
    )
    return clf.fit(X, y, X_val=Xv, y_val=yv), Xv


@pytest.fixture(scope="module")
def single():
    return fitted()


def test_embedding_shapes_and_the_mean_over_chunks(single):
    clf, X = single
    per_chunk = clf.embed(X, chunks=True)
    width = clf.module_.head.in_features
    assert per_chunk.shape == (9, 3, width) and per_chunk.dtype == np.float32
    track = clf.embed(X)
    assert track.shape == (9, width)
    np.testing.assert_allclose(track, per_chunk.mean(axis=1), rtol=1e-6)


def test_the_hook_leaves_the_logits_unchanged_and_the_head_maps_embeddings_to_them(single):
    clf, X = single
    before = clf.decision_logits(X)
    track = clf.embed(X)
    after = clf.decision_logits(X)
    np.testing.assert_array_equal(before, after)
    with torch.no_grad():
        from_head = clf.module_.head(torch.as_tensor(track)).numpy()
    np.testing.assert_allclose(from_head, before, rtol=1e-4, atol=1e-5)


def test_a_multilabel_net_is_read_through_its_wrapper():
    clf, X = fitted(task="multi")
    assert final_linear(clf.module_, n_classes=3) is clf.module_.net.head
    track = clf.embed(X)
    with torch.no_grad():
        logits = clf.module_.net.head(torch.as_tensor(track)) + clf.module_.offset
    np.testing.assert_allclose(logits.numpy(), clf.decision_logits(X), rtol=1e-4, atol=1e-5)


class NoHead(nn.Module):
    """Logits without any linear layer (a 1x1 convolution and a mean)."""

    def __init__(self, n_classes=3, n_mels=24):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, n_classes, 1)

    def forward(self, x):
        return self.conv(x).mean(dim=2)


class LastLinear(nn.Module):
    """No ``head`` attribute: the last nn.Linear with one output per class is taken."""

    def __init__(self, n_classes=3, n_mels=24):
        super().__init__()
        self.hidden = nn.Linear(n_mels, 5)
        self.out = nn.Linear(5, n_classes)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x.mean(dim=2))))


def test_the_layer_is_found_without_a_head_and_refused_without_any():
    net = LastLinear()
    assert final_linear(net, n_classes=3) is net.out
    X, _ = band_dataset(4, seed=2, frames=120)
    loader = loaders.eval_loader(X, chunk_frames=32, n_eval_chunks=2, batch_size=4, num_workers=0)
    cpu = torch.device("cpu")
    out = chunk_embeddings(net, loader, n_classes=3, device=cpu, use_amp=False)
    assert out.shape == (4, 2, 5)
    logits = steps.predict_logits(net, loader, device=cpu, use_amp=False)
    with torch.no_grad():
        np.testing.assert_allclose(
            net.out(torch.as_tensor(out.mean(axis=1))).numpy(), logits, rtol=1e-5, atol=1e-6
        )
    with pytest.raises(NoFinalLinearError, match="no final linear layer"):
        chunk_embeddings(NoHead(), loader, n_classes=3, device=cpu, use_amp=False)
