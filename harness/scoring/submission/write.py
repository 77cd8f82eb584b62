"""Write WWW 2018 challenge submission CSVs.

A submission has the header ``SUBMISSION_HEADER`` (``file_id`` then the 16 challenge genres in
alphabetical order, spelled as in genres.csv) and one row of probabilities per test clip.
:func:`write_submission` writes one from any model's probabilities: classes the model never saw
get ``UNSEEN_CLASS_FLOOR`` and every row is renormalised, so the log loss stays finite even on a
clip of a genre the model cannot predict. Values are written with Python's shortest round-trip
``repr`` (up to 17 significant digits, never fewer than needed to reproduce the float exactly,
``0.0625`` for a uniform row), UTF-8 without BOM, LF line endings, atomically (a temporary file
beside the target, checked with :func:`validate_submission`, then ``os.replace``).

What the validator accepts and rejects is documented in :mod:`harness.scoring.submission.validate`;
scoring against an answer key is :mod:`harness.scoring.submission.score`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.challenge import fits_in_csv
from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import ParameterError
from harness.scoring.submission.validate import (
    SUBMISSION_HEADER,
    SubmissionError,
    validate_submission,
)

UNSEEN_CLASS_FLOOR = 1e-4


def check_ids(file_ids: Sequence[Any]) -> list[str]:
    """The ids as str; refuses an empty, padded, repeated id or one with a comma, quote or
    line break (:class:`ParameterError` naming its position)."""
    ids = [str(i) for i in file_ids]
    seen: dict[str, int] = {}
    for row, fid in enumerate(ids):
        if not fits_in_csv(fid):
            raise ParameterError(
                f"file_ids[{row}] is {fid!r}; ids must be non-empty, without spaces at the ends, "
                "commas, quotes or line breaks"
            )
        if fid in seen:
            raise ParameterError(f"file_ids[{row}] {fid!r} repeats file_ids[{seen[fid]}]")
        seen[fid] = row
    return ids


def to_challenge_columns(
    proba: Any, classes: Sequence[Any], floor: float = UNSEEN_CLASS_FLOOR
) -> np.ndarray:
    """Probabilities over ``classes`` as the 16 challenge columns, float64 (n, 16): each row
    renormalised, genres missing from ``classes`` at ``floor`` before renormalising. Row by
    row, so a batch gives the values of the whole file."""
    from harness.scoring.metrics.single import check_score_matrix

    classes = [str(c) for c in classes]
    p = check_score_matrix(proba, n_columns=len(classes))
    for c in classes:
        if c not in CHALLENGE_GENRES:
            close = difflib.get_close_matches(c, CHALLENGE_GENRES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"class {c!r} is not one of the 16 challenge genres.{hint}")
    if len(set(classes)) != len(classes):
        raise ParameterError(f"classes has repeated entries: {classes}")
    sums = p.sum(axis=1)
    if (sums <= 0).any():
        row = int(np.flatnonzero(sums <= 0)[0])
        raise ParameterError(f"proba row {row} is all zeros; every row needs a positive value")
    out = np.full((p.shape[0], len(CHALLENGE_GENRES)), floor, dtype=np.float64)
    cols = [CHALLENGE_GENRES.index(c) for c in classes]
    out[:, cols] = p / sums[:, None]
    if len(cols) == len(CHALLENGE_GENRES):
        return out  # no floor added: renormalise once only
    return out / out.sum(axis=1, keepdims=True)


def write_submission(
    file_ids: Sequence[Any],
    proba: Any,
    classes: Sequence[Any],
    path: Path | str,
    *,
    floor: float = UNSEEN_CLASS_FLOOR,
) -> Path:
    """Write a challenge submission CSV atomically and check it before returning.

    Parameters
    ----------
    file_ids : sequence of str, length n_clips
        Test clip ids (mp3 names without ``.mp3``), distinct.
    proba : array-like, shape (n_clips, n_classes)
        Non-negative scores per clip, column ``c`` for ``classes[c]``.
    classes : sequence of str, length n_classes
        Any subset of the 16 challenge genres, in any order (e.g. an estimator's ``classes_``).
    path : Path or str
        Where to write; parent folders are created.
    floor : float
        Probability given to each challenge genre missing from ``classes`` before renormalising.

    Returns
    -------
    Path
        ``path``, now a valid submission.
    """
    ids = check_ids(file_ids)
    if not 0 <= floor < 1:
        raise ParameterError(f"floor must be in [0, 1), got {floor}")
    p = to_challenge_columns(proba, classes, floor)
    if p.shape[0] != len(ids):
        raise ParameterError(f"{len(ids)} file_ids but proba has {p.shape[0]} rows")
    path = Path(path)
    if path.is_dir():
        raise ParameterError(
            f"{path}: is a folder; name the submission file, e.g. {path / 'submission.csv'}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(",".join(SUBMISSION_HEADER) + "\n")
            fh.writelines(challenge_lines(ids, p))
        problems = validate_submission(tmp, expected_ids=ids)
        if problems:
            raise SubmissionError(
                f"the written submission failed validation ({len(problems)} problems), "
                f"first: {problems[0]}; this is a bug, please report it",
                problems,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def challenge_lines(file_ids: Sequence[str], columns: np.ndarray) -> list[str]:
    """The CSV lines (with their LF) of rows already in challenge columns
    (:func:`to_challenge_columns`): the id, then each value's shortest round-trip ``repr``."""
    return [
        fid + "," + ",".join(map(repr, row)) + "\n"
        for fid, row in zip(file_ids, columns.tolist(), strict=True)
    ]


def uniform_submission(file_ids: Sequence[Any], path: Path | str) -> Path:
    """Write the sample submission: probability 1/16 for every genre of every clip."""
    n = len(file_ids)
    proba = np.full((n, len(CHALLENGE_GENRES)), 1.0 / len(CHALLENGE_GENRES))
    return write_submission(file_ids, proba, CHALLENGE_GENRES, path)
