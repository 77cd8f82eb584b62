"""Suspects of a run as plain :class:`Card` records, one per thing a person should listen to.

Read from the run's ``checks.json`` (:func:`harness.checks.base.load_checks`): the flagged
tracks of ``labels/suspected_mislabels`` (score: 1 - the out-of-fold p(given label)), the
pairs of ``duplicates/identical_files``, ``duplicates/near_identical_audio`` and
``leakage/train_test_near_duplicates`` (one card per unordered pair; score: 1 - the pair's
distance; a pair across splits is a ``cross-split duplicate``), the clips of
``audio/decode_status`` that are not ok and the ``audio/clip_warnings`` ones (a measured fault:
score 1.0, a warning 0.9). From one model's stored predictions: its most confident errors
(score: the probability it gave the wrong genre). Only labelled tracks are decided on (a
challenge clip has no label to fix), so a pair decides on its labelled member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult

MISLABELS = "labels/suspected_mislabels"
PAIR_CHECKS = (
    "duplicates/identical_files",
    "duplicates/near_identical_audio",
    "leakage/train_test_near_duplicates",
)
DECODE = "audio/decode_status"
WARNINGS = "audio/clip_warnings"
MODEL_ERRORS = "model errors"
AUDIO_FAULT_SCORE = 1.0  # a measured status (silent, short, corrupt) is certain
AUDIO_WARNING_SCORE = 0.9
DEFAULT_MODEL_ERRORS = 20


@dataclass(frozen=True)
class Card:
    """One suspect to review.

    Attributes
    ----------
    key : str
        Unique within a page: ``<kind>:<track>[:<other>]``.
    kind : str
        ``mislabel``, ``near-duplicate``, ``cross-split duplicate``, ``clipped``, ``silent``,
        ``short``, ``empty``, ``corrupt`` (any decode status), ``model error``.
    check : str
        The check that raised it (``family/name``, or ``model errors``); the ``check`` column
        of the exported ``label_fixes.csv``.
    score : float
        How sure the check is, in [0, 1]; cards are shown highest first.
    track : str
        The track a decision applies to (a labelled track id, as text).
    other : str
        The other clip of a pair ("" for a single clip); ``duplicate-of`` names it.
    evidence : str
        What the check found, in words.
    suggested : str
        The genre the check proposes instead of the given one ("" when it proposes none): the
        page's relabel list starts there.
    """

    key: str
    kind: str
    check: str
    score: float
    track: str
    other: str = ""
    evidence: str = ""
    suggested: str = ""

    def to_json(self) -> dict:
        """The card as a JSON-ready dict."""
        return asdict(self)


def _find(results: Sequence[CheckResult], key: str) -> pd.DataFrame:
    for r in results:
        if r.key == key and isinstance(r.evidence, pd.DataFrame):
            return r.evidence.reset_index() if r.evidence.index.name else r.evidence
    return pd.DataFrame()


def mislabel_cards(results: Sequence[CheckResult], labelled: set[str]) -> list[Card]:
    """One card per track of the mislabel check's table (track_id, given, suggested, p_given,
    p_suggested)."""
    table = _find(results, MISLABELS)
    cards = []
    for row in table.to_dict(orient="records"):
        track = str(row["track_id"])
        if track not in labelled:
            continue
        p_given = float(row.get("p_given") or 0.0)
        cards.append(
            Card(
                key=f"mislabel:{track}",
                kind="mislabel",
                check=MISLABELS,
                score=round(1.0 - p_given, 4),
                track=track,
                evidence=(
                    f"a cross-validated classifier gives the label {row.get('given')} "
                    f"p = {p_given:.2f} and suggests {row.get('suggested')} "
                    f"(p = {float(row.get('p_suggested') or 0.0):.2f})"
                ),
                suggested=str(row.get("suggested") or ""),
            )
        )
    return cards


def pair_cards(results: Sequence[CheckResult], labelled: set[str]) -> list[Card]:
    """One card per unordered duplicate pair over :data:`PAIR_CHECKS` (the first check that
    lists a pair names it)."""
    cards, seen = [], set()
    for name in PAIR_CHECKS:
        table = _find(results, name)
        for row in table.to_dict(orient="records"):
            a, b = str(row["key_a"]), str(row["key_b"])
            if frozenset((a, b)) in seen or not ({a, b} & labelled):
                continue
            seen.add(frozenset((a, b)))
            track, other = (b, a) if b in labelled else (a, b)
            split_a, split_b = row.get("split_a"), row.get("split_b")
            across = bool(row.get("across_splits", split_a != split_b))
            distance = float(row.get("distance") or 0.0)
            how = "identical bytes" if row.get("method") == "sha1" else "the same audio"
            cards.append(
                Card(
                    key=f"pair:{track}:{other}",
                    kind="cross-split duplicate" if across else "near-duplicate",
                    check=name,
                    score=round(max(0.0, 1.0 - distance), 4),
                    track=track,
                    other=other,
                    evidence=(
                        f"{a} ({split_a}) and {b} ({split_b}) hold {how} (distance "
                        f"{distance:.3f}, {row.get('detail', '')})"
                        + ("; one copy leaks across splits" if across else "")
                    ),
                )
            )
    return cards


def audio_cards(results: Sequence[CheckResult], labelled: set[str]) -> list[Card]:
    """One card per clip that is not ok (decode status) or carries a warning (clipped, DC
    offset, wrong extension)."""
    cards = []
    for row in _find(results, DECODE).to_dict(orient="records"):
        track = str(row.get("key", row.get("index", "")))
        if track not in labelled:
            continue
        status = str(row["status"])
        error = f": {row['error']}" if row.get("error") else ""
        cards.append(
            Card(
                key=f"{status}:{track}",
                kind=status,
                check=DECODE,
                score=AUDIO_FAULT_SCORE,
                track=track,
                evidence=f"decodes as {status} ({float(row.get('duration') or 0):.2f} s){error}",
            )
        )
    for row in _find(results, WARNINGS).to_dict(orient="records"):
        track = str(row.get("key", row.get("index", "")))
        if track not in labelled:
            continue
        text = str(row.get("warnings", ""))
        kind = "clipped" if "clipped" in text else text.split(" ")[0] or "warning"
        cards.append(
            Card(
                key=f"warning:{track}",
                kind=kind,
                check=WARNINGS,
                score=AUDIO_WARNING_SCORE,
                track=track,
                evidence=f"decodes and is used, but: {text}",
            )
        )
    return cards


def model_error_cards(
    arrays: dict[str, np.ndarray], *, model: str, labelled: set[str], limit: int
) -> list[Card]:
    """The ``limit`` most confident wrong predictions of one model's stored predictions
    (``keys``, ``y_true``, ``classes``, ``proba`` of shape (n_tracks, n_classes))."""
    y_true = arrays["y_true"]
    if y_true.ndim != 1:  # multi-label: no single wrong genre to show
        return []
    classes = arrays["classes"].astype(str)
    proba = arrays.get("proba_calibrated", arrays["proba"])
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    wrong = np.flatnonzero(classes[predicted] != y_true.astype(str))
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    cards = []
    for i in wrong:
        track = str(arrays["keys"][i])
        if track not in labelled:
            continue
        cards.append(
            Card(
                key=f"error:{track}",
                kind="model error",
                check=MODEL_ERRORS,
                score=round(float(confidence[i]), 4),
                track=track,
                evidence=(
                    f"{model} is sure it is {classes[predicted[i]]} (p = {confidence[i]:.2f}), "
                    f"not {y_true[i]}"
                ),
            )
        )
        if len(cards) == limit:
            break
    return cards


def sort_cards(cards: Iterable[Card]) -> list[Card]:
    """Highest score first; ties in the order the checks listed them; one card per key."""
    ordered: dict[str, Card] = {}
    for card in cards:
        ordered.setdefault(card.key, card)
    return sorted(ordered.values(), key=lambda c: -c.score)


def cards_from_checks(results: Sequence[CheckResult], labelled: Iterable) -> list[Card]:
    """Every card the checks of a run raise (unsorted: see :func:`sort_cards`)."""
    labelled = {str(k) for k in labelled}
    return [
        *mislabel_cards(results, labelled),
        *pair_cards(results, labelled),
        *audio_cards(results, labelled),
    ]
