"""Results by artist: does a model miss one artist's clips far more often than its error rate
explains, all in the same way?

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
from scipy.stats import binom

from harness.checks.base import CheckResult
from harness.checks.runs.results import FAMILY, load_predictions
from harness.registry import REFERENCE_MODELS
from harness.run_layout import IN_RUN, RunLayout

MIN_CLIPS = 3  # an artist needs this many clips in a split to be judged
ALPHA = 0.05  # family-wise: divided by the number of artists judged for a model and split
SAME_WAY = 0.5  # the most common wrong label must take at least this share of the clips
SPLITS = ("validation", "test")
SHOWN = 3  # pairs named in the finding
COLUMNS = ["split", "model", "artist", "genre", "clips", "wrong", "predicted as", "chance"]


def run_artists(run_dir: Path) -> pd.Series | None:
    """track id (str) -> artist id from the run's ``splits.csv``; None for a run without it."""
    path = RunLayout(Path(run_dir)).splits
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype={"track_id": str})
    if "artist_id" not in frame.columns:
        return None  # written before the column existed
    return frame.set_index("track_id")["artist_id"]


def artist_label(artist) -> int | str:
    """An artist as the evidence shows it: FMA's integer id, or a manifest's artist name."""
    text = str(artist)
    return int(text) if text.lstrip("-").isdigit() else text


def artist_error_table(
    preds: dict[str, dict[str, np.ndarray]], artists: pd.Series, *, split: str
) -> pd.DataFrame:
    """One row per (model, artist) where the model misses the artist's clips as a whole.

    An artist with ``MIN_CLIPS`` or more clips in the split is flagged for a model when

    - the model's misses on it are improbable at its error rate on the whole split: the
      binomial chance of that many misses or more ("chance") is below ``ALPHA`` divided by
      the number of artists judged (a Bonferroni bound, so a weak model missing a few artists
      by chance is not flagged), and
    - the misses go mostly one way: the most common wrong label covers ``SAME_WAY`` or more of
      the artist's clips.

    Columns: ``COLUMNS`` and "models also wrong" (how many other models are flagged on the
    same artist and split). Reference rows (uniform, prior) are not judged.
    """
    rows = []
    for name, arrays in preds.items():
        if name in REFERENCE_MODELS:
            continue
        frame = pd.DataFrame(
            {
                "artist": artists.reindex(arrays["keys"].astype(str)).to_numpy(),
                "true": arrays["y_true"].astype(str),
                "pred": arrays["classes"].astype(str)[arrays["proba"].argmax(axis=1)],
            }
        )
        frame["wrong"] = frame["true"] != frame["pred"]
        error_rate = float(frame["wrong"].mean())
        by_artist = frame.dropna(subset=["artist"]).groupby("artist", sort=True)
        judged = [(artist, clips) for artist, clips in by_artist if len(clips) >= MIN_CLIPS]
        for artist, clips in judged:
            wrong = clips[clips["wrong"]]
            if wrong.empty:
                continue
            chance = float(binom.sf(len(wrong) - 1, len(clips), error_rate))
            top = wrong["pred"].value_counts()
            if chance >= ALPHA / len(judged) or top.iloc[0] < SAME_WAY * len(clips):
                continue
            rows.append(
                {
                    "split": split,
                    "model": name,
                    "artist": artist_label(artist),
                    "genre": clips["true"].mode().iloc[0],
                    "clips": len(clips),
                    "wrong": len(wrong),
                    "predicted as": top.index[0],
                    "chance": float(f"{chance:.2g}"),
                }
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    flagged = table.groupby(["split", "artist"])["model"].transform("size")
    table["models also wrong"] = flagged.to_numpy(dtype=int) - 1
    return table


def from_run(run_dir: Path) -> CheckResult:
    """WARN when a model misses an artist's clips as a whole (see :func:`artist_error_table`)
    in the validation or test split."""
    artists = run_artists(run_dir)
    if artists is None:
        return CheckResult(
            FAMILY, "artist_errors", "SKIP", f"the run's {IN_RUN.splits} has no artist_id column"
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
    table = table.sort_values(["chance", "wrong"], ascending=[True, False], kind="stable")
    table = table.reset_index(drop=True)
    if table.empty:
        return CheckResult(
            FAMILY,
            "artist_errors",
            "PASS",
            "no model misses an artist's clips more often than its error rate explains "
            f"(artists with {MIN_CLIPS}+ clips in {' and '.join(SPLITS)}, Bonferroni "
            f"{ALPHA:g} per model and split)",
        )
    named = [
        f"{r['model']} on artist {r['artist']} ({r['genre']}, {r['split']}): "
        f"{r['wrong']}/{r['clips']} wrong, mostly as {r['predicted as']} (chance {r['chance']:.2g})"
        for r in table.head(SHOWN).to_dict("records")
    ]
    more = f"; and {len(table) - SHOWN} more" if len(table) > SHOWN else ""
    return CheckResult(
        FAMILY,
        "artist_errors",
        "WARN",
        "; ".join(named) + more,
        evidence=table,
        action="a model that misses one artist's clips far more often than its error rate, "
        "the same way, reads something they share (mix colour, noise floor, room) rather than "
        "the genre: listen to two of them. If other models miss the artist too (models also "
        "wrong), check its label; if the model never predicts the genre (per_class_f1), the "
        "class is the problem. Otherwise train it with mixup (mixup = 0.3 under "
        "[params.<model>]) or on more artists per genre, and read its score knowing one artist "
        "moves it",
    )
