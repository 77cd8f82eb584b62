"""Results by artist: does a model miss most clips of one artist, all in the same way?

FMA's splits are artist-filtered, so an evaluated split holds few artists per genre, and the
clips of one artist share their production: mix colour, room, a noise floor or hum. A model
that keys on those instead of the genre misses every clip of an unseen artist the same way,
and the split's score moves by that artist's whole clip count. This check reads the run's
``splits.csv`` (columns ``track_id``, ``split``, ``artist_id``) and the stored predictions of
the validation and test splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult
from harness.checks.results import FAMILY, load_predictions

MIN_CLIPS = 3  # an artist needs this many clips in a split to be judged
WRONG_SHARE = 0.6  # ... and a model must miss at least this share of them
SPLITS = ("validation", "test")
SHOWN = 3  # pairs named in the finding


def run_artists(run_dir: Path) -> pd.Series | None:
    """track id (str) -> artist id from the run's ``splits.csv``; None for a run without it."""
    path = Path(run_dir, "splits.csv")
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype={"track_id": str})
    if "artist_id" not in frame.columns:
        return None  # written before the column existed
    return frame.set_index("track_id")["artist_id"]


def artist_error_table(
    preds: dict[str, dict[str, np.ndarray]], artists: pd.Series, *, split: str
) -> pd.DataFrame:
    """One row per (model, artist) where the model misses at least ``WRONG_SHARE`` of the
    artist's clips (``MIN_CLIPS`` or more in the split).

    Columns: split, model, artist, genre (the artist's most common true label), clips, wrong,
    predicted as (the most common wrong label), models also wrong (how many other models miss
    the same share of this artist's clips).
    """
    rows = []
    for name, arrays in preds.items():
        if name in ("uniform", "prior"):
            continue
        frame = pd.DataFrame(
            {
                "artist": artists.reindex(arrays["keys"].astype(str)).to_numpy(),
                "true": arrays["y_true"].astype(str),
                "pred": arrays["classes"].astype(str)[arrays["proba"].argmax(axis=1)],
            }
        ).dropna(subset=["artist"])
        frame["wrong"] = frame["true"] != frame["pred"]
        for artist, clips in frame.groupby("artist", sort=True):
            wrong = clips[clips["wrong"]]
            if len(clips) < MIN_CLIPS or len(wrong) < WRONG_SHARE * len(clips):
                continue
            rows.append(
                {
                    "split": split,
                    "model": name,
                    "artist": int(artist),
                    "genre": clips["true"].mode().iloc[0],
                    "clips": len(clips),
                    "wrong": len(wrong),
                    "predicted as": wrong["pred"].mode().iloc[0],
                }
            )
    table = pd.DataFrame(
        rows, columns=["split", "model", "artist", "genre", "clips", "wrong", "predicted as"]
    )
    flagged = table.groupby(["split", "artist"])["model"].transform("size")
    table["models also wrong"] = flagged.to_numpy(dtype=int) - 1
    return table


def artist_errors(run_dir: Path) -> CheckResult:
    """WARN when a model misses most clips of an artist in the validation or test split."""
    artists = run_artists(run_dir)
    if artists is None:
        return CheckResult(
            FAMILY, "artist_errors", "SKIP", "the run's splits.csv has no artist_id column"
        )
    tables = []
    for split in SPLITS:
        preds = load_predictions(run_dir, split=split)
        if preds and next(iter(preds.values()))["y_true"].ndim == 1:
            tables.append(artist_error_table(preds, artists, split=split))
    if not tables:
        return CheckResult(
            FAMILY, "artist_errors", "SKIP", "no single-label validation or test predictions"
        )
    table = pd.concat(tables, ignore_index=True)
    share = table["wrong"] / table["clips"].where(table["clips"] > 0)
    table = table.iloc[np.lexsort((-table["wrong"], -share))].reset_index(drop=True)
    if table.empty:
        return CheckResult(
            FAMILY,
            "artist_errors",
            "PASS",
            f"no model misses {WRONG_SHARE:.0%} or more of the clips of an artist "
            f"(artists with {MIN_CLIPS}+ clips in {' and '.join(SPLITS)})",
        )
    named = [
        f"{r['model']} on artist {r['artist']} ({r['genre']}, {r['split']}): "
        f"{r['wrong']}/{r['clips']} wrong, mostly as {r['predicted as']}"
        for r in table.head(SHOWN).to_dict("records")
    ]
    more = f"; and {len(table) - SHOWN} more" if len(table) > SHOWN else ""
    return CheckResult(
        FAMILY,
        "artist_errors",
        "WARN",
        "; ".join(named) + more,
        evidence=table,
        action="a model that misses most clips of one artist the same way reads something the "
        "artist's clips share (mix colour, noise floor, room) rather than the genre: listen to "
        "two of them. If every model misses the artist (models also wrong), check its label; "
        "if one model does, train it with mixup (mixup = 0.3 under [params.<model>]) or on more "
        "artists per genre, and read its score knowing one artist moves it",
    )
