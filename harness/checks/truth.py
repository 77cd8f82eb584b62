"""Score a checks report against the faults the synthetic generator planted.

``synthetic_truth.csv`` (``track_id,fault,detail``) lists one row per planted fault: ``empty``,
``short``, ``silent``, ``corrupt`` (audio), ``duplicate`` (``detail`` = ``duplicate_of=<id>``,
optionally ``;reencoded``) and ``mislabel``. What the report flagged is read from the evidence
of three checks: ``audio/decode_status`` (one row per clip that is not ok, with its status),
the duplicate pairs of ``duplicates/identical_files`` and ``duplicates/near_identical_audio``,
and ``labels/suspected_mislabels`` (one row per flagged track).

Per fault kind: ``planted``, ``flagged``, ``hits``, ``recall`` = hits / planted and
``precision`` = hits / flagged; for duplicates the unit is the unordered pair (planted copy,
source). ``false_alarms_clean`` counts flagged tracks (or pair members) that carry no planted
fault at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.checks.base import CheckResult, load_checks
from harness.errors import DataError

AUDIO_FAULTS = ("empty", "short", "silent", "corrupt")
DUPLICATE_CHECKS = ("identical_files", "near_identical_audio")


def load_truth(path: Path) -> pd.DataFrame:
    """Read ``synthetic_truth.csv`` (columns track_id, fault, detail)."""
    try:
        truth = pd.read_csv(path, dtype={"detail": str}, keep_default_na=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: truth file not found; only synthetic sets have one") from exc
    missing = {"track_id", "fault", "detail"} - set(truth.columns)
    if missing:
        raise DataError(
            f"{path}: missing columns {sorted(missing)}; expected track_id,fault,detail"
        )
    return truth


def _evidence(results: Sequence[CheckResult], family: str, name: str) -> pd.DataFrame:
    for r in results:
        if r.family == family and r.name == name and isinstance(r.evidence, pd.DataFrame):
            return r.evidence
    return pd.DataFrame()


def _as_int(values) -> set[int]:
    out = set()
    for v in values:
        try:
            out.add(int(v))
        except (TypeError, ValueError):
            continue  # challenge file ids are not tracks
    return out


def _as_keys(values, *, paths: bool) -> set:
    """Track ids (int; challenge file ids left out), or, for a folder or manifest set whose
    truth is keyed by clip path (``paths``), the keys as str."""
    if not paths:
        return _as_int(values)
    return {str(v) for v in values if isinstance(v, str) and v}


def flagged_audio(results: Sequence[CheckResult], *, paths: bool = False) -> dict[str, set]:
    """Status -> track ids (clip paths when ``paths``) that the decode status check reports."""
    table = _evidence(results, "audio", "decode_status")
    if table.empty:
        return {}
    table = table.reset_index()
    key = table.columns[0]
    return {
        s: _as_keys(table.loc[table["status"] == s, key], paths=paths)
        for s in table["status"].unique()
    }


def flagged_pairs(results: Sequence[CheckResult], *, paths: bool = False) -> set[frozenset]:
    """Unordered track-id (or clip-path) pairs reported by the duplicate checks."""
    pairs = set()
    for name in DUPLICATE_CHECKS:
        table = _evidence(results, "duplicates", name)
        for a, b in zip(table.get("key_a", []), table.get("key_b", []), strict=True):
            ints = _as_keys([a, b], paths=paths)
            if len(ints) == 2:
                pairs.add(frozenset(ints))
    return pairs


def _row(kind: str, planted: set, flagged: set, clean_alarms: int) -> dict:
    hits = len(planted & flagged)
    return {
        "fault": kind,
        "planted": len(planted),
        "flagged": len(flagged),
        "hits": hits,
        "recall": hits / len(planted) if planted else float("nan"),
        "precision": hits / len(flagged) if flagged else float("nan"),
        "false_alarms_clean": clean_alarms,
    }


def score_against_truth(results: Sequence[CheckResult], truth: pd.DataFrame) -> pd.DataFrame:
    """Recall and precision of the report's findings per planted fault kind.

    Returns
    -------
    pd.DataFrame
        One row per fault kind (empty, short, silent, corrupt, duplicate, mislabel) with columns
        fault, planted, flagged, hits, recall, precision, false_alarms_clean.
    """
    paths = not truth["track_id"].astype(str).str.fullmatch(r"\d+").all()
    ids = truth["track_id"].astype(str if paths else int)
    faulty = set(ids)
    rows = []
    audio_flags = flagged_audio(results, paths=paths)
    for kind in AUDIO_FAULTS:
        planted = set(ids[truth["fault"] == kind])
        flagged = audio_flags.get(kind, set())
        rows.append(_row(kind, planted, flagged, len(flagged - faulty)))
    dups = truth[truth["fault"] == "duplicate"]
    sources = dups["detail"].str.extract(r"duplicate_of=([^;]+)")[0].astype(str if paths else int)
    planted_pairs = {frozenset((a, b)) for a, b in zip(ids[dups.index], sources, strict=True)}
    found = flagged_pairs(results, paths=paths)
    members = set().union(*found) if found else set()
    sources_set = set(sources)
    rows.append(_row("duplicate", planted_pairs, found, len(members - faulty - sources_set)))
    planted = set(ids[truth["fault"] == "mislabel"])
    evidence = _evidence(results, "labels", "suspected_mislabels")
    flagged = _as_keys(evidence.get("track_id", []), paths=paths)
    rows.append(_row("mislabel", planted, flagged, len(flagged - faulty)))
    return pd.DataFrame(rows)


def score_report(checks_json: Path, truth_csv: Path) -> pd.DataFrame:
    """:func:`score_against_truth` for a ``checks.json`` and a ``synthetic_truth.csv``."""
    return score_against_truth(load_checks(checks_json), load_truth(truth_csv))


MIN_MISLABEL_SCORE = 0.6


def acceptance_problems(
    scores: pd.DataFrame, *, kinds: Sequence[str] = (*AUDIO_FAULTS, "duplicate", "mislabel")
) -> list[str]:
    """Where a score misses issue 6's bar, as text (empty when every bar is met).

    Audio faults and duplicates need recall 1.0 and no clean clip flagged (and, for
    duplicates, precision 1.0); the mislabel detector needs precision and recall of at least
    :data:`MIN_MISLABEL_SCORE`. A kind that was not planted is not judged.
    """
    problems = []
    for row in scores[scores["fault"].isin(kinds)].itertuples():
        if not row.planted:
            continue
        if row.fault == "mislabel":
            if not (row.recall >= MIN_MISLABEL_SCORE and row.precision >= MIN_MISLABEL_SCORE):
                problems.append(f"mislabel P={row.precision:.2f} R={row.recall:.2f}")
            continue
        if row.recall < 1.0:
            problems.append(f"{row.fault} recall {row.recall:.2f}")
        if row.fault == "duplicate" and not row.precision >= 1.0:
            problems.append(f"duplicate precision {row.precision:.2f}")
        if row.false_alarms_clean:
            problems.append(f"{row.false_alarms_clean} clean clips flagged {row.fault}")
    return problems


def truth_result(scores: pd.DataFrame) -> CheckResult:
    """The truth score as a report section (FAIL when :func:`acceptance_problems` finds any)."""
    problems = acceptance_problems(scores)
    summary = ", ".join(
        f"{r.fault} R={r.recall:.2f} P={r.precision:.2f}" for r in scores.itertuples() if r.planted
    )
    return CheckResult(
        "truth",
        "planted_faults",
        "FAIL" if problems else "PASS",
        ("; ".join(problems) + " — " if problems else "every planted fault found — ") + summary,
        evidence=scores.round(3),
        action="a detector misses or over-reports planted faults: tune it before trusting the "
        "report on real data"
        if problems
        else "",
    )
