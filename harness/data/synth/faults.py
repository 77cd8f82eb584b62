"""Planted faults of the synthetic FMA: which tracks get broken audio, duplicates or wrong labels.

Every planted fault becomes one row of ``synthetic_truth.csv`` (``track_id,fault,detail``):

- ``empty``: a 0-byte mp3.
- ``short``: audio of 1/3 to 2/3 of the clip duration.
- ``silent``: digital silence.
- ``corrupt``: a real encoding whose bytes after the first 64 are zeroed (a download that was
  pre-allocated and interrupted). libsndfile 1.2.2 cannot open it ("Error opening ... File does
  not exist or is not a regular file"), so ``harness.data.audio.decode`` reports ``corrupt``;
  a merely truncated mp3 would decode silently to fewer frames (``short``), which is why the
  corruption is zero-filling and not truncation.
- ``duplicate``: the byte-identical mp3 of another track (``duplicate_of=<id>``) or the same
  audio re-encoded at another quality (``duplicate_of=<id>;reencoded``), under a track of
  another artist in another split, with the source's genre.
- ``mislabel``: a training track whose genre_top (and genres / genres_all, consistently) says
  another genre of the subset; the audio keeps the true genre (``true=Rock;given=Pop``).

A track carries at most one fault; duplicate sources are kept clean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.data.synth.metadata import genre_palette

AUDIO_FAULTS = ("empty", "short", "silent", "corrupt")


def fault_count(rate: float, n: int) -> int:
    """round(rate * n), at least 1 when rate > 0 (and never more than n)."""
    return 0 if rate <= 0 or n == 0 else min(n, max(1, int(round(rate * n))))


def plan_faults(
    plan: pd.DataFrame,
    splits: pd.Series,
    *,
    rates: dict[str, float],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Choose the faulty tracks and rewrite the plan's labels where needed.

    Parameters
    ----------
    plan : pd.DataFrame
        From ``plan_catalogue`` (index track_id; genre, genres, artist_id, audio, ...).
    splits : pd.Series
        Split name per track_id of the audio tracks.
    rates : dict
        Keys empty, short, silent, corrupt, duplicate, near_duplicate, mislabel.

    Returns
    -------
    truth : pd.DataFrame
        Columns track_id, fault, detail, source (int source track for duplicates, else -1),
        true_genre (the genre the audio is rendered with).
    plan : pd.DataFrame
        A copy with genre / genres rewritten for duplicates and mislabels.
    """
    plan = plan.copy()
    audio_ids = plan.index[plan["audio"]].to_numpy()
    free = set(audio_ids.tolist())
    rows: list[dict] = []
    for fault in AUDIO_FAULTS:
        k = fault_count(rates.get(fault, 0.0), len(audio_ids))
        for tid in rng.choice(sorted(free), size=min(k, len(free)), replace=False):
            free.discard(int(tid))
            rows.append(_row(int(tid), fault, "", -1, plan.at[int(tid), "genre"]))
    for fault, reencode in (("duplicate", False), ("near_duplicate", True)):
        for _ in range(fault_count(rates.get(fault, 0.0), len(audio_ids))):
            pair = _duplicate_pair(plan, splits, free, rng)
            if pair is None:
                break
            dup, src = pair
            free -= {dup, src}
            plan.at[dup, "genre"] = plan.at[src, "genre"]
            plan.at[dup, "genres"] = genre_palette(plan.at[src, "genre"], rng)[:1]
            detail = f"duplicate_of={src}" + (";reencoded" if reencode else "")
            rows.append(_row(dup, "duplicate", detail, src, plan.at[src, "genre"]))
    training = sorted(t for t in free if splits.get(t) == "training")
    n_mis = fault_count(rates.get("mislabel", 0.0), sum(splits.reindex(audio_ids) == "training"))
    genres = sorted(set(plan.loc[audio_ids, "genre"]))
    for tid in rng.choice(training, size=min(n_mis, len(training)), replace=False):
        tid = int(tid)
        true = plan.at[tid, "genre"]
        given = str(rng.choice([g for g in genres if g != true]))
        plan.at[tid, "genre"] = given
        plan.at[tid, "genres"] = genre_palette(given, rng)[:2]
        rows.append(_row(tid, "mislabel", f"true={true};given={given}", -1, true))
    truth = pd.DataFrame(rows, columns=["track_id", "fault", "detail", "source", "true_genre"])
    return truth.sort_values("track_id", kind="stable").reset_index(drop=True), plan


def _row(tid: int, fault: str, detail: str, source: int, true_genre: str) -> dict:
    return {
        "track_id": tid,
        "fault": fault,
        "detail": detail,
        "source": source,
        "true_genre": true_genre,
    }


def _duplicate_pair(
    plan: pd.DataFrame, splits: pd.Series, free: set[int], rng: np.random.Generator
) -> tuple[int, int] | None:
    """(duplicate, source): different splits (hence artists); same genre when possible."""
    ids = np.array(sorted(free))
    if len(ids) < 2:
        return None
    split = splits.reindex(ids).to_numpy()
    genre = plan.loc[ids, "genre"].to_numpy()
    cross = (split[:, None] != split[None, :]) & (
        plan.loc[ids, "artist_id"].to_numpy()[:, None] != plan.loc[ids, "artist_id"].to_numpy()
    )
    same = cross & (genre[:, None] == genre[None, :])
    pairs = np.argwhere(same if same.any() else cross)
    if len(pairs) == 0:
        return None
    i, j = pairs[rng.integers(len(pairs))]
    return int(ids[i]), int(ids[j])
