"""DDP test: two CPU processes (gloo) train one model; both ranks must end with identical
weights (parameters and batch-norm buffers) and identical validation scores, computed on the
full validation set (an odd size, so the sampler's padding would show), and only rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from band_data import band_dataset

from harness.training import distributed as hdist
from harness.training.checkpoint import cpu_state
from harness.training.chunks import ArraySource
from harness.training.estimator import NeuralClassifier
from harness.training.loaders import train_loader
from harness.training.steps import score_logits

pytestmark = pytest.mark.slow


def _train_rank(rank: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    X, y = band_dataset(40, seed=0)
    Xv, yv = band_dataset(13, seed=1)
    ckpt = Path(out_dir) / f"ckpt{rank}"
    clf = NeuralClassifier(
        "cnn",
        model_params={"channels": (8, 8, 8, 8)},
        chunk_frames=64,
        n_eval_chunks=2,
        batch_size=8,
        epochs=3,
        lr=1e-2,
        ddp=True,
        checkpoint_dir=ckpt,
        progress=False,
    )
    clf.fit(X, y, X_val=Xv, y_val=yv)
    info = hdist.current()
    train = train_loader(
        ArraySource(X),
        np.zeros(40),
        chunk_frames=clf.chunk_frames_,
        batch_size=clf.batch_size,
        num_workers=0,
        random_state=clf.random_state,
        info=info,
    )
    shards = []
    for epoch in (1, 2):
        train.set_epoch(epoch)
        shards.append(list(iter(train.sampler)))
    torch.save(
        {
            "state": cpu_state(clf.module_),
            "logits": torch.from_numpy(clf.decision_logits(Xv)),
            "history": torch.tensor(clf.history_[["train_loss", "val_log_loss"]].to_numpy()),
            "best_epoch": clf.best_epoch_,
            "shards": shards,
            "world": [info.rank, info.world_size],
        },
        Path(out_dir) / f"rank{rank}.pt",
    )


def test_two_gloo_ranks_end_identical(tmp_path):
    hdist.spawn(_train_rank, world_size=2, args=(str(tmp_path),))
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == [0, 2] and r1["world"] == [1, 2]
    assert r0["state"].keys() == r1["state"].keys()
    for key in r0["state"]:
        torch.testing.assert_close(r0["state"][key], r1["state"][key], rtol=0, atol=0)
    torch.testing.assert_close(r0["logits"], r1["logits"], rtol=0, atol=0)
    torch.testing.assert_close(r0["history"], r1["history"], rtol=0, atol=0)
    assert r0["best_epoch"] == r1["best_epoch"]
    # validation scores are those of the full set (13 clips, no padded duplicates)
    _, yv = band_dataset(13, seed=1)
    targets = np.searchsorted(["blues", "jazz", "rock"], yv)
    best = r0["history"][r0["best_epoch"] - 1, 1].item()
    score = score_logits(r0["logits"].numpy(), targets, task="single")["log_loss"]
    assert score == pytest.approx(best, rel=1e-5)
    # each epoch the two shards cover the 40 clips exactly once and are reshuffled
    for epoch in (0, 1):
        assert sorted(r0["shards"][epoch] + r1["shards"][epoch]) == list(range(40))
    assert r0["shards"][0] != r0["shards"][1]
    # only rank 0 writes checkpoints
    assert (tmp_path / "ckpt0" / "last.pt").exists() and not (tmp_path / "ckpt1").exists()
