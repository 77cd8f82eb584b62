"""Near duplicates as the best model hears them: two clips closer, moment for moment, than one
clip is to itself a few seconds later.

Reads the best neural model's ``embeddings/<model>.npz`` (lowest validation log loss in
``leaderboard.csv``; format in :mod:`harness.run.embeddings`): the evaluation-chunk
embeddings (n, k, D) and the track embeddings (n, D), standardised with the track embeddings'
column statistics; distances are cosine.

**Threshold**: the ``QUANTILE`` (0.1%) of the distances between two chunks of one clip, over
all clips: how close the model puts one recording to itself at another moment, at the closest
one pair in a thousand. Pairs of identical chunks (a padded short clip, a loop) are left out of
it: they say nothing of how two moments differ.

**Pairs**: the chunks sit at the same offsets in two clips of one length, so a copy (byte-
identical, re-encoded; a shift of a second or two moves each chunk by less than the chunks'
spacing) matches the original chunk for chunk. A pair is listed when its chunks at *every*
position are at most the threshold apart (the largest of the k matched distances); the
distance of the two track embeddings is shown beside it. The track embeddings alone are not
compared with the threshold: a trained classifier pulls the mean embeddings of one genre
together, far closer than two moments of one clip (on the default synthetic run, 368 pairs of
cnn track embeddings were below the 1% quantile of same-clip chunk distances, 6 of them planted
copies), while two different tracks still differ moment by moment.

Why 0.1%: on that run the planted copies' worst matched distance was at most 0.0014; the
nearest other pairs, tracks of one artist in one genre, started at 0.006; the 0.1% quantile
was 0.0039 and listed the 6 planted pairs alone, the 1% quantile (0.0104) added 3 same-artist
pairs. A copy sits far below any moment-to-moment change, so the cut can be strict.

Every listed pair is shown, in different groups (training, validation, test, challenge: leakage,
the score measures memory) and in one group too: a copy inside the training split weighs one
recording twice, inside the test split it counts one answer twice, and FMA's artist-filtered
splits keep an artist's re-uploads in one split, so within-group copies are the common real
case. WARN when any pair is found, PASS when none. On a synthetic set (``synthetic_truth.csv``
at the run's root) the pairs are scored against the planted ``duplicate`` faults.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from harness.checks.base import CheckResult, skip
from harness.checks.runs.style_map import MFCC_SOURCE, load_embedding, one_thread_below
from harness.checks.truth import load_truth
from harness.data.layout import FmaLayout
from harness.run_layout import RunLayout, run_config

FAMILY = "duplicates"
NAME = "embedding_near_duplicates"
QUANTILE = 0.001
IDENTICAL = 1e-6  # cosine distance of two chunks that are the same frames
COLUMNS = [
    "key_a",
    "key_b",
    "group_a",
    "group_b",
    "chunk distance",
    "track distance",
    "across groups",
]


def best_neural_model(run_dir: Path) -> str | None:
    """The model with the lowest validation log loss among those with an embeddings file, or,
    when none has one, a pretrained network's (:data:`PRETRAINED_SOURCES`, per 3 s patch)."""
    layout = RunLayout(Path(run_dir))
    board_path = layout.leaderboard
    if not board_path.exists():
        return None
    board = pd.read_csv(board_path)
    if "val_log_loss" in board.columns:
        board = board.sort_values("val_log_loss", kind="stable", na_position="last")
    for name in [*board["model"].astype(str), *PRETRAINED_SOURCES]:
        if name != MFCC_SOURCE and layout.embedding(name).exists():
            return name
    return None


#: Pretrained sources whose patch embeddings can stand in for a trained model's chunks.
PRETRAINED_SOURCES = ("musicnn-msd", "musicnn-mtt")


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows (last axis) scaled to length 1: cosine distance = 1 - dot product."""
    return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-12)


def standardise_with(tracks: np.ndarray, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both z-scored with the track embeddings' column mean and standard deviation."""
    tracks = np.asarray(tracks, dtype=np.float64)
    mean, std = tracks.mean(axis=0), tracks.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (tracks - mean) / std, (np.asarray(chunks, dtype=np.float64) - mean) / std


def same_clip_distances(chunks: np.ndarray) -> np.ndarray:
    """Cosine distances between every two chunks of the same clip: (n * k * (k - 1) / 2,)."""
    unit = unit_rows(chunks)  # (n, k, D)
    similarity = np.einsum("nid,njd->nij", unit, unit)
    upper = np.triu_indices(chunks.shape[1], k=1)
    return 1.0 - similarity[:, upper[0], upper[1]].ravel()


def same_clip_threshold(chunks: np.ndarray) -> float:
    """``QUANTILE`` of :func:`same_clip_distances`, identical chunks left out (NaN: none left)."""
    distances = same_clip_distances(chunks)
    distances = distances[distances > IDENTICAL]
    return float(np.quantile(distances, QUANTILE)) if len(distances) else float("nan")


def matched_pairs(chunks: np.ndarray, *, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) whose chunks at every position are at most ``threshold`` apart (cosine).

    Returns
    -------
    (pairs, worst) : np.ndarray (m, 2) int, np.ndarray (m,) float
        The pairs and their largest matched-chunk distance.
    """
    unit = unit_rows(chunks)
    finder = NearestNeighbors(metric="cosine", algorithm="brute").fit(unit[:, 0])
    near = finder.radius_neighbors(unit[:, 0], radius=threshold, return_distance=False)
    pairs = np.array([(i, j) for i, found in enumerate(near) for j in found if j > i], dtype=int)
    if not len(pairs):
        return pairs.reshape(0, 2), np.zeros(0)
    worst = (1.0 - np.einsum("pkd,pkd->pk", unit[pairs[:, 0]], unit[pairs[:, 1]])).max(axis=1)
    keep = worst <= threshold
    return pairs[keep], np.maximum(worst[keep], 0.0)


def close_pairs(
    tracks: np.ndarray,
    chunks: np.ndarray,
    keys: np.ndarray,
    groups: np.ndarray,
    *,
    threshold: float,
) -> pd.DataFrame:
    """The listed pairs, nearest first (``COLUMNS``), of standardised track (n, D) and chunk
    (n, k, D) embeddings."""
    with one_thread_below(len(tracks)):
        pairs, worst = matched_pairs(chunks, threshold=threshold)
    keys, groups = keys.astype(str), groups.astype(str)
    unit = unit_rows(tracks)
    a, b = pairs[:, 0], pairs[:, 1]
    track_distance = np.maximum(1.0 - (unit[a] * unit[b]).sum(axis=1), 0.0)
    table = pd.DataFrame(
        {
            "key_a": keys[a],
            "key_b": keys[b],
            "group_a": groups[a],
            "group_b": groups[b],
            "chunk distance": worst,
            "track distance": track_distance,
            "across groups": groups[a] != groups[b],
        },
        columns=COLUMNS,
    )
    return table.sort_values("chunk distance", kind="stable").reset_index(drop=True)


def planted_pairs(run_dir: Path) -> set[frozenset] | None:
    """The planted duplicate pairs (copy, source) of the run's synthetic root, or None."""
    root = run_config(run_dir).get("resolved_root")
    if not root:
        return None
    truth_csv = FmaLayout(Path(root)).truth_csv
    if not truth_csv.is_file():
        return None
    truth = load_truth(truth_csv)
    copies = truth[truth["fault"] == "duplicate"]
    sources = copies["detail"].str.extract(r"duplicate_of=([^;]+)")[0]
    return {frozenset((str(a), str(b))) for a, b in zip(copies["track_id"], sources, strict=True)}


def truth_sentence(pairs: pd.DataFrame, planted: set[frozenset], keys: np.ndarray) -> str:
    """Recall and precision of the listed pairs against the planted duplicates."""
    listed = {frozenset((a, b)) for a, b in zip(pairs["key_a"], pairs["key_b"], strict=True)}
    present = set(map(str, keys))
    embedded = {p for p in planted if p <= present}  # both clips decoded and embedded
    hits = len(listed & planted)
    recall = hits / len(embedded) if embedded else float("nan")
    precision = hits / len(listed) if listed else float("nan")
    return (
        f"against the {len(planted)} planted duplicates ({len(embedded)} with both clips "
        f"embedded): recall {recall:.2f} ({hits}/{len(embedded)}), precision {precision:.2f} "
        f"({hits}/{len(listed)})"
    )


def from_run(run_dir: Path) -> CheckResult:
    """WARN listing the near-duplicate pairs of the best neural model's embeddings."""
    run_dir = Path(run_dir)
    model = best_neural_model(run_dir)
    if model is None:
        return skip(
            FAMILY,
            NAME,
            "no neural model's embeddings in the run (no neural model, "
            "--no-style-map, or none had a final linear layer)",
        )
    arrays = load_embedding(RunLayout(run_dir).embedding(model))
    threshold = float("nan")
    if "chunks" in arrays and arrays["chunks"].shape[1] >= 2 and len(arrays["keys"]) >= 2:
        tracks, chunks = standardise_with(arrays["embedding"], arrays["chunks"])
        threshold = same_clip_threshold(chunks)
    if not np.isfinite(threshold):
        return skip(
            FAMILY,
            NAME,
            f"{model}: fewer than two clips, or no two different chunks "
            "of one clip: no same-clip distances to set the threshold",
        )
    pairs = close_pairs(tracks, chunks, arrays["keys"], arrays["groups"], threshold=threshold)
    planted = planted_pairs(run_dir)
    if planted is not None:
        pairs["planted"] = [frozenset(p) in planted for p in pairs[["key_a", "key_b"]].to_numpy()]
    across = int(pairs["across groups"].sum())
    why = "pretrained, per 3 s patch" if model in PRETRAINED_SOURCES else "best validation log loss"
    finding = (
        f"{model} ({why}): {len(pairs)} pairs of clips whose chunks are, at "
        f"every position, at most {threshold:.4f} apart (cosine; the {QUANTILE:.1%} quantile of "
        f"the distances between two chunks of one clip), {across} of them across groups, "
        f"{len(pairs) - across} within one"
        + (f"; {truth_sentence(pairs, planted, arrays['keys'])}" if planted is not None else "")
    )
    if pairs.empty:
        return CheckResult(FAMILY, NAME, "PASS", finding)
    return CheckResult(
        FAMILY,
        NAME,
        "WARN",
        finding,
        evidence=pairs.round({"chunk distance": 5, "track distance": 5}),
        action="listen to each pair: the same recording across groups leaks (the score "
        "measures memory), within one group it counts twice; drop one clip of each copy (or "
        "keep both in one split), then rerun",
    )
