"""Leakage checks: what the test set shares with the training set.

FMA splits keep every track of an artist in one split (the artist filter), and labels are set
mostly per album, so an artist or an album present in two splits lets a model score by
recognising the artist or the album rather than the genre. The same holds, more bluntly, for
the same audio present under two track ids in two splits (found by
:mod:`harness.checks.data.duplicates`).
"""

from __future__ import annotations

import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.data.duplicates import input_pairs
from harness.checks.registry import DataInputs
from harness.data.splits import check_leakage

FAMILY = "leakage"


def artist_album_leakage(*, tracks: pd.DataFrame, splits: pd.Series) -> list[CheckResult]:
    """Artists and albums present in more than one split.

    Parameters
    ----------
    tracks : pd.DataFrame
        tracks.csv rows (index track_id, 2-level columns with ("artist","id"), ("album","id")).
    splits : pd.Series
        track_id -> training / validation / test.

    Returns
    -------
    list of CheckResult
        ``artists_across_splits`` and ``albums_across_splits`` (FAIL when any is found).
    """
    leaks = check_leakage(tracks, splits)
    results = []
    for kind, plural in (("artist", "artists"), ("album", "albums")):
        if not _n_unique(tracks, kind):
            results.append(unknown_metadata(kind, source=splits.attrs.get("source")))
            continue
        rows = leaks[leaks["kind"] == kind].sort_values("n_tracks", ascending=False)
        rows = rows.reset_index(drop=True)
        if rows.empty:
            results.append(
                CheckResult(
                    family=FAMILY,
                    name=f"{plural}_across_splits",
                    verdict="PASS",
                    finding=f"every {kind} is confined to one split",
                    evidence={f"{plural} checked": _n_unique(tracks, kind)},
                )
            )
            continue
        results.append(
            CheckResult(
                family=FAMILY,
                name=f"{plural}_across_splits",
                verdict="FAIL",
                finding=f"{len(rows)} {plural} appear in more than one split "
                f"({int(rows['n_tracks'].sum())} tracks): {id_list(rows['id'], limit=8)}",
                evidence=rows,
                action=f"re-split grouped by {kind} (`--resplit` groups by artist; keep each "
                f"{kind}'s tracks in one split) before trusting test scores",
            )
        )
    return results


def unknown_metadata(kind: str, *, source: str | None) -> CheckResult:
    """The result standing for a leakage check the dataset gives no metadata for: a SKIP for
    albums, and for artists under a published artist-filtered split (``source`` ``built-in``);
    otherwise a WARN, since scores without artist information are optimistic."""
    name = f"{kind}s_across_splits"
    if kind == "album":
        return skip(
            FAMILY,
            name,
            "the dataset names no album (add an album column to a manifest to check album leakage)",
        )
    if source == "built-in":
        return skip(
            FAMILY,
            name,
            "the dataset names no artist; the split is a published "
            "artist-filtered split (GTZAN fault-filtered), taken as given",
        )
    grouped = (
        "repeated and near-identical excerpts were kept in one split (grouped by audio "
        "fingerprint), but "
        if source == "audio"
        else ""
    )
    return CheckResult(
        FAMILY,
        name,
        "WARN",
        f"the dataset names no artist: {grouped}clips of one artist can sit in training and "
        "test, so every score of this run is optimistic (a model can recognise the artist "
        "or the recording, not the genre)",
        evidence={"split source": source or "unknown"},
        action="add an artist column (a CSV manifest: path,label,artist) so that the split is "
        "grouped by artist, or read the scores as an upper bound",
    )


def _n_unique(tracks: pd.DataFrame, kind: str) -> int:
    try:
        return int(tracks[(kind, "id")].nunique())
    except KeyError:
        return 0


def duplicate_leakage(*, pairs: pd.DataFrame, splits: pd.Series) -> CheckResult:
    """Identical or near-identical clips shared between training and validation / test.

    Parameters
    ----------
    pairs : pd.DataFrame
        Duplicate pairs from :func:`harness.checks.data.duplicates.find_duplicates` with columns
        key_a, key_b, method, distance.
    splits : pd.Series
        key -> split name.
    """
    name = "train_test_near_duplicates"
    if pairs is None:
        return CheckResult(FAMILY, name, "SKIP", "no duplicate search was run")
    table = pairs.assign(
        split_a=splits.reindex(pairs["key_a"]).to_numpy(),
        split_b=splits.reindex(pairs["key_b"]).to_numpy(),
    )
    crossing = table[
        table["split_a"].notna() & table["split_b"].notna() & (table["split_a"] != table["split_b"])
    ]
    with_train = crossing[(crossing["split_a"] == "training") | (crossing["split_b"] == "training")]
    if crossing.empty:
        return CheckResult(
            FAMILY,
            name,
            "PASS",
            f"no duplicate audio crosses splits ({len(pairs)} duplicate pairs within one split)",
            evidence={"pairs": len(pairs), "pairs across splits": 0},
        )
    return CheckResult(
        FAMILY,
        name,
        "FAIL",
        f"{len(crossing)} duplicate pairs cross splits ({len(with_train)} involve training): "
        f"a model is tested on audio it trained on",
        evidence=crossing.reset_index(drop=True),
        action="drop one copy of each pair (keep the training copy out of the test set) or "
        "group duplicates into one split",
    )


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The leakage family as a registered ``"data"`` check: artists and albums across splits,
    then duplicate audio across splits."""
    results = artist_album_leakage(tracks=inputs.tracks, splits=inputs.splits)
    results.append(duplicate_leakage(pairs=input_pairs(inputs), splits=inputs.groups))
    return results
