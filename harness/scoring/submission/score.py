"""Score a challenge submission against an answer key (header ``file_id,genre``).

The submission is validated against the key's ids first (:mod:`.validate`), then scored with
:func:`harness.scoring.metrics.evaluate` over the 16 challenge genres.
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import DataError
from harness.scoring.metrics import evaluate
from harness.scoring.submission.validate import SubmissionError, read_submission

ANSWERS_HEADER = ("file_id", "genre")


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
    line_of: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise DataError(
                f"{path} line {number}: expected two fields, file_id and genre, got "
                f"{','.join(row)!r}"
            )
        if row[0] in answers:
            raise DataError(
                f"{path} line {number}: file_id {row[0]!r} repeats line "
                f"{line_of[row[0]]}; keep one answer per clip"
            )
        if row[1] not in CHALLENGE_GENRES:
            close = difflib.get_close_matches(row[1], CHALLENGE_GENRES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataError(
                f"{path} line {number}: genre {row[1]!r} is not one of the 16 "
                f"challenge genres{hint}"
            )
        answers[row[0]], line_of[row[0]] = row[1], number
    if not answers:
        raise DataError(f"answer key {path} has no rows")
    return answers


def score_submission(path: Path | str, answers_csv: Path | str) -> dict[str, float]:
    """Validate a submission against an answer key, then score it.

    Returns
    -------
    dict
        :func:`harness.scoring.metrics.evaluate`'s ordered keys (log_loss, macro_f1,
        accuracy, top3_accuracy, ece) over the 16 challenge genres, then ``n_tracks``.

    Raises
    ------
    SubmissionError
        If the file is invalid for this answer key; ``.problems`` lists every problem.
    """
    answers = read_answers(answers_csv)
    parsed = read_submission(path, expected_ids=answers)
    if parsed.problems and all(p.kind == "unknown_id" for p in parsed.problems):
        raise SubmissionError(  # a partial key: the submission is not at fault
            f"{path}: {len(parsed.problems)} rows have a file_id the answer key {answers_csv} "
            f"does not hold (first: {parsed.problems[0]}), and every clip of the key has a row; "
            "score with the key of the whole test folder, or a submission of the key's clips",
            parsed.problems,
        )
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
