"""Write, validate and score WWW 2018 challenge submission CSVs.

A submission has the header ``SUBMISSION_HEADER`` (``file_id`` then the 16 challenge genres in
alphabetical order, spelled as in genres.csv) and one row of probabilities per test clip.
:func:`write_submission` writes one from any model's probabilities: classes the model never saw
get ``UNSEEN_CLASS_FLOOR`` and every row is renormalised, so the log loss stays finite even on a
clip of a genre the model cannot predict. Values are written with Python's shortest round-trip
``repr`` (up to 17 significant digits, never fewer than needed to reproduce the float exactly,
``0.0625`` for a uniform row), UTF-8 without BOM, LF line endings, atomically (a temporary file
beside the target, checked with :func:`validate_submission`, then ``os.replace``).

What the validator accepts and rejects is documented in :mod:`harness.submission_validate`.
:func:`score_submission` validates against an answer key (header ``file_id,genre``), then
scores with :func:`harness.metrics.evaluate`. Expected ids come from a test folder (mp3 names
without ``.mp3``: :func:`ids_from_test_dir`) or an ids file (:func:`read_ids_file`).
"""

from __future__ import annotations

import csv
import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import DataError, ParameterError
from harness.submission_validate import (
    SUBMISSION_HEADER,
    SUM_TOLERANCE,
    ParsedSubmission,
    Problem,
    SubmissionError,
    read_submission,
    validate_submission,
)

UNSEEN_CLASS_FLOOR = 1e-4
ANSWERS_HEADER = ("file_id", "genre")

__all__ = [
    "ANSWERS_HEADER",
    "SUBMISSION_HEADER",
    "SUM_TOLERANCE",
    "UNSEEN_CLASS_FLOOR",
    "ParsedSubmission",
    "Problem",
    "SubmissionError",
    "ids_from_test_dir",
    "read_answers",
    "read_ids_file",
    "read_submission",
    "score_submission",
    "uniform_submission",
    "validate_submission",
    "write_submission",
]


def _check_ids(file_ids: Sequence[Any]) -> list[str]:
    ids = [str(i) for i in file_ids]
    seen: dict[str, int] = {}
    for row, fid in enumerate(ids):
        if not fid or fid != fid.strip() or any(ch in fid for ch in ',"\r\n'):
            raise ParameterError(
                f"file_ids[{row}] is {fid!r}; ids must be non-empty, without spaces at the ends, "
                "commas, quotes or line breaks"
            )
        if fid in seen:
            raise ParameterError(f"file_ids[{row}] {fid!r} repeats file_ids[{seen[fid]}]")
        seen[fid] = row
    return ids


def _to_challenge_columns(proba: Any, classes: Sequence[Any], floor: float) -> np.ndarray:
    from harness.metrics import check_score_matrix

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
    ids = _check_ids(file_ids)
    if not 0 <= floor < 1:
        raise ParameterError(f"floor must be in [0, 1), got {floor}")
    p = _to_challenge_columns(proba, classes, floor)
    if p.shape[0] != len(ids):
        raise ParameterError(f"{len(ids)} file_ids but proba has {p.shape[0]} rows")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(",".join(SUBMISSION_HEADER) + "\n")
            for fid, row in zip(ids, p.tolist(), strict=True):
                fh.write(fid + "," + ",".join(map(repr, row)) + "\n")
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


def uniform_submission(file_ids: Sequence[Any], path: Path | str) -> Path:
    """Write the sample submission: probability 1/16 for every genre of every clip."""
    n = len(file_ids)
    proba = np.full((n, len(CHALLENGE_GENRES)), 1.0 / len(CHALLENGE_GENRES))
    return write_submission(file_ids, proba, CHALLENGE_GENRES, path)


def challenge_mp3s(test_dir: Path | str) -> list[Path]:
    """The clips of a challenge test folder: its ``*.mp3`` files (any case), sorted by file id."""
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        raise DataError(
            f"{test_dir}: challenge test folder not found (it does not exist); "
            "pass the crowdai_fma_test folder"
        )
    paths = sorted(
        (p for p in test_dir.iterdir() if p.suffix.lower() == ".mp3"), key=lambda p: p.stem
    )
    if not paths:
        raise DataError(f"test folder {test_dir} holds no .mp3 files; is it the right folder?")
    return paths


def ids_from_test_dir(test_dir: Path | str) -> list[str]:
    """The expected file ids of a challenge test folder: its ``*.mp3`` names, sorted, no suffix."""
    return [p.stem for p in challenge_mp3s(test_dir)]


def read_ids_file(path: Path | str) -> list[str]:
    """Expected ids from a file: one id per line, or a CSV whose first column is ``file_id``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read ids file {path}: {exc.strerror}") from None
    is_csv = bool(lines) and lines[0].split(",")[0].strip() == "file_id"
    ids: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[1:] if is_csv else lines, start=2 if is_csv else 1):
        fid = (line.split(",")[0] if is_csv else line).strip()
        if not fid:
            continue
        if fid in seen:
            raise DataError(f"{path} line {number}: id {fid!r} repeats line {seen[fid]}")
        seen[fid] = number
        ids.append(fid)
    if not ids:
        raise DataError(f"ids file {path} holds no ids; expected one file_id per line")
    return ids


def read_answers(answers_csv: Path | str) -> dict[str, str]:
    """Read an answer key (header ``file_id,genre``) into an ordered dict file_id -> genre."""
    path = Path(answers_csv)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DataError(f"cannot read answer key {path}: {exc.strerror}") from None
    if not rows or tuple(rows[0]) != ANSWERS_HEADER:
        raise DataError(f"{path} line 1: expected the header 'file_id,genre'")
    answers: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or row[1] not in CHALLENGE_GENRES or row[0] in answers:
            raise DataError(
                f"{path} line {number}: expected a new file_id and one of the 16 challenge "
                f"genres, got {','.join(row)!r}"
            )
        answers[row[0]] = row[1]
    if not answers:
        raise DataError(f"answer key {path} has no rows")
    return answers


def score_submission(path: Path | str, answers_csv: Path | str) -> dict[str, float]:
    """Validate a submission against an answer key, then score it.

    Returns
    -------
    dict
        :func:`harness.metrics.evaluate`'s ordered keys (log_loss, macro_f1, accuracy,
        top3_accuracy, ece) over the 16 challenge genres, then ``n_tracks``.

    Raises
    ------
    SubmissionError
        If the file is invalid for this answer key; ``.problems`` lists every problem.
    """
    from harness.metrics import evaluate

    answers = read_answers(answers_csv)
    parsed = read_submission(path, expected_ids=answers)
    if parsed.problems:
        raise SubmissionError(
            f"{path} is not a valid submission ({len(parsed.problems)} problems), first: "
            f"{parsed.problems[0]}; run `fma-harness validate` to list them",
            parsed.problems,
        )
    row_of = {fid: i for i, fid in enumerate(parsed.ids)}
    proba = parsed.values[[row_of[fid] for fid in answers]]
    scores: dict[str, float] = evaluate(list(answers.values()), proba, labels=CHALLENGE_GENRES)
    scores["n_tracks"] = len(answers)
    return scores
