"""Near duplicates from embeddings (harness/checks/runs/embedding_duplicates.py): a planted shifted
copy is found against the same-clip threshold, scored against the truth file, and nothing
else is listed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.checks.runs.embedding_duplicates import (
    QUANTILE,
    best_neural_model,
    same_clip_distances,
    same_clip_threshold,
)
from harness.checks.runs.embedding_duplicates import (
    from_run as embedding_duplicates,
)

GROUPS = ("training", "validation", "test", "challenge")


def clips(n=60, k=4, dim=16, *, seed=0):
    """Chunk embeddings (n, k, dim): each clip a random centre plus chunk-to-chunk variation."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n, 1, dim))
    return centres + 0.3 * rng.normal(size=(n, k, dim))


def shifted_copy(chunks, source, *, seed=1):
    """The clip ``source`` again, shifted by a tenth of the chunks' spacing (each chunk a
    little of the way to the next one) plus codec-like noise."""
    rng = np.random.default_rng(seed)
    original = chunks[source]
    later = np.concatenate([original[1:], original[-1:]])
    copy = 0.9 * original + 0.1 * later + 0.01 * rng.normal(size=original.shape)
    return np.concatenate([chunks, copy[None]])


def write_run(run_dir, models, *, root=None):
    """A run directory: leaderboard.csv, manifest.json and one npz per (model, chunks)."""
    (run_dir / "embeddings").mkdir(parents=True)
    rows = [{"model": m, "val_log_loss": loss} for m, (loss, _) in models.items()]
    pd.DataFrame([{"model": "mfcc-logreg", "val_log_loss": 0.1}, *rows]).to_csv(
        run_dir / "leaderboard.csv", index=False
    )
    config = {"models": list(models), "seed": 0, "resolved_root": str(root) if root else None}
    (run_dir / "manifest.json").write_text(json.dumps({"config": config}))
    for model, (_, chunks) in models.items():
        n = len(chunks)
        np.savez(
            run_dir / "embeddings" / f"{model}.npz",
            keys=np.array([str(100 + i) for i in range(n)]),
            groups=np.array([GROUPS[i % 4] for i in range(n)]),
            embedding=chunks.mean(axis=1).astype(np.float32),
            chunks=chunks.astype(np.float16),
            source=np.array(model),
        )
    return run_dir


def test_a_shifted_copy_is_found_across_groups_and_scored_against_the_truth(tmp_path):
    chunks = shifted_copy(clips(), source=5)  # clip 5 (validation) copied as clip 60 (training)
    root = tmp_path / "root"
    root.mkdir()
    (root / "synthetic_truth.csv").write_text(
        "track_id,fault,detail\n160,duplicate,duplicate_of=105\n130,mislabel,true=A;given=B\n"
    )
    run = write_run(tmp_path / "run", {"cnn": (0.9, chunks)}, root=root)
    result = embedding_duplicates(run)
    assert (result.family, result.verdict) == ("duplicates", "WARN")
    pairs = result.evidence
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert {row["key_a"], row["key_b"]} == {"105", "160"}
    assert row["across groups"] and bool(row["planted"])
    assert "recall 1.00 (1/1), precision 1.00 (1/1)" in result.finding
    assert result.action


def test_no_pair_without_a_copy_and_the_best_model_is_chosen_by_validation_loss(tmp_path):
    with_copy = shifted_copy(clips(), source=5)
    run = write_run(tmp_path, {"crnn": (1.2, with_copy), "cnn": (0.8, clips(seed=3))})
    assert best_neural_model(run) == "cnn"
    result = embedding_duplicates(run)
    assert result.verdict == "PASS" and result.finding.startswith("cnn (best validation")
    assert "planted" not in result.finding  # no truth file: no recall


def test_the_threshold_is_the_same_clip_chunk_distance_without_identical_chunks():
    chunks = clips(n=3, k=3)
    distances = same_clip_distances(chunks)
    assert distances.shape == (3 * 3,)
    assert np.all(distances >= -1e-9) and np.all(distances < 1)
    looped = np.concatenate([chunks, np.repeat(chunks[:1, :1], 3, axis=1)])  # one looped clip
    assert np.allclose(same_clip_distances(looped)[-3:], 0)
    assert same_clip_threshold(looped) == pytest.approx(np.quantile(distances, QUANTILE))


def test_a_copy_in_the_same_group_is_listed_too_and_the_chunks_decide(tmp_path):
    chunks = clips()
    copy = chunks[4] + 0.01  # clip 4 (training) again as clip 60 (training)
    # a different clip whose chunks are other moments but whose mean equals clip 7's
    same_mean = chunks[7][::-1].copy()
    chunks = np.concatenate([chunks, copy[None], same_mean[None]])
    result = embedding_duplicates(write_run(tmp_path, {"cnn": (0.5, chunks)}))
    pairs = result.evidence
    assert [(r.key_a, r.key_b) for r in pairs.itertuples()] == [("104", "160")]
    assert not pairs["across groups"].iloc[0] and "0 of them across groups, 1 within" in (
        result.finding
    )


def test_skip_without_a_neural_models_embeddings(tmp_path):
    run = write_run(tmp_path, {})
    result = embedding_duplicates(run)
    assert result.verdict == "SKIP" and "no neural model's embeddings" in result.finding
