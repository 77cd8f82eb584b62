"""Read and check a challenge submission CSV the way a (lenient) grader would.

What a valid file looks like: UTF-8 text, the header line exactly
``file_id,Blues,Classical,...,Soul-RnB,Spoken`` (``SUBMISSION_HEADER``: ``file_id`` then the 16
challenge genres in alphabetical order), then one row per test clip: its ``file_id`` (the mp3
name without ``.mp3``) and 16 probabilities, each a finite number in [0, 1], summing to 1 within
``SUM_TOLERANCE`` = 1e-6. Every expected id appears exactly once; rows may come in any order.

Lenient-grader decisions
------------------------
Accepted (common CSV readers such as pandas and Python's csv module take them silently):
    - Windows line endings (CRLF), or a mix of LF and CRLF; each line's trailing CR is dropped.
    - A missing newline after the last row, and blank lines at the very end of the file.
    - Spaces around a number, decimal or scientific notation (``0.25``, ``2.5e-01``), exactly
      0 or 1, and RFC 4180 quoting of fields (``"Old-Time / Historic"``).
Rejected, each as a :class:`Problem` naming its line:
    - A UTF-8 byte order mark (a plain UTF-8 reader sees the first column as ``\\ufefffile_id``),
      bytes that are not UTF-8, and old-Mac line endings (a CR not followed by LF).
    - A separator other than ``,`` (``;``, tab, ``|``) and a header that differs in any way
      (spelling, case, spaces, order, extra or missing columns).
    - Empty lines in the middle of the file, rows with the wrong number of fields, an empty
      ``file_id``, duplicate ids, ids not in the test set, ids of the test set with no row.
    - Empty or non-numeric cells, ``nan``/``inf`` (any spelling), values below 0 or above 1, and
      rows whose sum differs from 1 by more than 1e-6.
A problem about the whole file (a missing id, no rows at all) has line 0.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import DataError

SUBMISSION_HEADER: tuple[str, ...] = ("file_id", *CHALLENGE_GENRES)
SUM_TOLERANCE = 1e-6
BOM = b"\xef\xbb\xbf"
OTHER_SEPARATORS = (";", "\t", "|")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One reason a submission is invalid.

    Attributes
    ----------
    line : int
        1-based line number in the file; 0 for a problem of the file as a whole.
    kind : str
        A stable machine-readable tag (``header``, ``bom``, ``duplicate_id``, ``row_sum`` ...).
    reason : str
        One line for a person: what is wrong and what was expected.
    """

    line: int
    kind: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


class SubmissionError(DataError):
    """A submission failed validation; ``.problems`` holds every :class:`Problem`."""

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message)
        self.problems = problems


@dataclass
class ParsedSubmission:
    """What :func:`read_submission` found: the good rows and every problem."""

    ids: list[str] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        """Probabilities of the good rows, shape (n_rows, 16), float64, challenge column order."""
        return np.asarray(self.rows, dtype=np.float64).reshape(
            len(self.rows), len(CHALLENGE_GENRES)
        )


def _decode(raw: bytes, problems: list[Problem]) -> list[str]:
    if raw.startswith(BOM):
        problems.append(
            Problem(1, "bom", "file starts with a UTF-8 byte order mark (BOM); save without BOM")
        )
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start]
        problems.append(Problem(line, "encoding", f"byte 0x{byte:02x} is not UTF-8; save as UTF-8"))
        text = raw.decode("utf-8", errors="replace")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()  # a final newline and trailing blank lines are accepted
    return lines


def _split(line: str) -> list[str]:
    return next(csv.reader([line], strict=True), [])


def _check_header(line: str, problems: list[Problem]) -> list[str] | None:
    """Return the header's fields, or None when rows cannot be read at all."""
    if "\r" in line:
        problems.append(Problem(1, "line_ending", "carriage return inside the line; use LF/CRLF"))
        return None
    fields = _split(line)
    if len(fields) == 1:
        for sep in OTHER_SEPARATORS:
            if sep in line:
                problems.append(
                    Problem(1, "separator", f"fields are separated by {sep!r}, expected ','")
                )
                return None
    if tuple(fields) == SUBMISSION_HEADER:
        return fields
    missing = [h for h in SUBMISSION_HEADER if h not in fields]
    extra = [f for f in fields if f not in SUBMISSION_HEADER]
    twice = sorted({f for f in fields if fields.count(f) > 1})
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
    if twice:
        parts.append(f"repeated column(s) {', '.join(map(repr, twice))}")
    if not parts:
        parts.append("columns out of order")
    problems.append(
        Problem(
            1,
            "header",
            f"header differs from the challenge header: {'; '.join(parts)} "
            "(expected file_id, then the 16 genres alphabetically)",
        )
    )
    return None if (twice or "file_id" not in fields) else fields


def _check_cells(cells: dict[str, str]) -> tuple[Problem | None, list[float]]:
    """Check one row's genre cells; return (first problem or None, values)."""
    bad: list[tuple[str, str]] = []
    values: list[float] = []
    for genre, raw in cells.items():
        cell = raw.strip()
        if not cell:
            bad.append(("not_number", f"{genre} is empty, expected a number in [0, 1]"))
        elif _NONFINITE.fullmatch(cell):
            bad.append(("not_finite", f"{genre} is {cell!r}, not a finite number"))
        elif not _NUMBER.fullmatch(cell):
            bad.append(("not_number", f"{genre} is {cell!r}, not a number"))
        elif not 0.0 <= float(cell) <= 1.0:
            bad.append(("out_of_range", f"{genre} is {cell}, outside [0, 1]"))
        else:
            values.append(float(cell))
    if not bad:
        return None, values
    kind, reason = bad[0]
    more = f" (and {len(bad) - 1} more bad cell(s))" if len(bad) > 1 else ""
    return Problem(0, kind, reason + more), values


def _check_rows(
    lines: list[str], header: list[str], expected: set[str] | None, parsed: ParsedSubmission
) -> dict[str, int]:
    seen: dict[str, int] = {}
    id_col = header.index("file_id")
    genre_cols = {g: header.index(g) for g in CHALLENGE_GENRES if g in header}
    complete = len(genre_cols) == len(CHALLENGE_GENRES)
    add = parsed.problems.append
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            add(Problem(number, "empty_line", "empty line in the middle of the file; delete it"))
            continue
        if "\r" in line:
            add(Problem(number, "line_ending", "carriage return inside the line; use LF/CRLF"))
            continue
        try:
            fields = _split(line)
        except csv.Error as exc:
            add(Problem(number, "csv", f"cannot parse the row as CSV: {exc}"))
            continue
        if len(fields) != len(header):
            seps = [sep for sep in OTHER_SEPARATORS if len(fields) == 1 and sep in line]
            hint = f" (separated by {seps[0]!r}? expected ',')" if seps else ""
            add(
                Problem(
                    number,
                    "field_count",
                    f"{len(fields)} fields, expected {len(header)} as in the header{hint}",
                )
            )
            continue
        fid = fields[id_col]
        if not fid.strip():
            add(Problem(number, "empty_id", "file_id is empty"))
            continue
        if fid in seen:
            add(
                Problem(
                    number, "duplicate_id", f"duplicate file_id {fid!r} (first on line {seen[fid]})"
                )
            )
            continue
        seen[fid] = number
        if expected is not None and fid not in expected:
            add(Problem(number, "unknown_id", f"unknown file_id {fid!r}: not in the test set"))
        problem, values = _check_cells({g: fields[j] for g, j in genre_cols.items()})
        if problem is not None:
            add(Problem(number, problem.kind, f"file_id {fid!r}: {problem.reason}"))
            continue
        total = float(np.sum(values))
        if complete and abs(total - 1.0) > SUM_TOLERANCE:
            add(Problem(number, "row_sum", f"row sums to {total:.10g}, expected 1 within 1e-6"))
            continue
        if complete:
            parsed.ids.append(fid)
            parsed.rows.append(values)
            parsed.line_numbers.append(number)
    return seen


def read_submission(path: Path | str, *, expected_ids: Iterable[str] | None = None):
    """Parse a submission CSV, collecting every problem instead of stopping at the first.

    Parameters
    ----------
    path : Path or str
        The CSV file.
    expected_ids : iterable of str, optional
        The test set's file ids; when given, missing and unknown ids are problems.

    Returns
    -------
    ParsedSubmission
        ``ids``, ``values`` (n_rows, 16) and ``line_numbers`` of the rows that passed every
        check, and ``problems`` (empty for a valid file), sorted by line.
    """
    parsed = ParsedSubmission()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        parsed.problems.append(Problem(0, "unreadable", f"cannot read {path}: {exc.strerror}"))
        return parsed
    lines = _decode(raw, parsed.problems)
    if not lines:
        parsed.problems.append(Problem(1, "empty", "file is empty; expected the header line"))
        return parsed
    header = _check_header(lines[0], parsed.problems)
    if header is None:
        return parsed
    expected = None if expected_ids is None else {str(i) for i in expected_ids}
    seen = _check_rows(lines, header, expected, parsed)
    if not seen and len(lines) < 2:
        parsed.problems.append(Problem(0, "no_rows", "the file has a header but no rows"))
    if expected is not None:
        for fid in sorted(expected - seen.keys()):
            parsed.problems.append(
                Problem(0, "missing_id", f"file_id {fid!r} has no row; every test clip needs one")
            )
    parsed.problems.sort(key=lambda p: (p.line == 0, p.line))
    return parsed


def validate_submission(
    path: Path | str, *, expected_ids: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem a grader would reject ``path`` for (empty list: valid); see module doc."""
    return read_submission(path, expected_ids=expected_ids).problems
