"""Where ``fma-harness predict`` writes: the challenge CSV, a tidy CSV or JSON Lines, appended
batch by batch and resumable.

Formats (:data:`FORMATS`):

- ``challenge``: the WWW 2018 submission (``file_id`` and the 16 genres, values as
  :func:`harness.scoring.submission.write.write_submission` writes them, so a bundle's rows equal
  its run's submission). Reasons cannot go in that file (a grader rejects extra columns): the
  files that got the prior are listed in ``<out>.reasons.csv`` (file_id, path, status, reason).
- ``csv``: one row per file: ``path``, ``file_id``, ``status`` (ok, failed, silent, budget),
  ``reason``, the top-k genres and their probabilities, then one column per class.
- ``jsonl``: the same as one JSON object per line (``top`` as [genre, probability] pairs,
  ``probabilities`` as a genre -> probability object).

Every batch is appended, flushed and synced: a crash loses at most the batch being written. A
rerun with the same ``--out`` reads what is there, drops a half-written last line, and skips the
files already written; rows that only hold the prior because the time budget ran out or the
file failed to decode are removed (the file rewritten atomically) and predicted again.

``<out>.predict.json``, written before the first row, says what writes the file: the bundle
(the sha256 of its ``manifest.json``, which covers every file of it), the format, the classes,
``--top-k`` and ``--middle``. A rerun with any of them changed is refused: its rows would sit
beside rows of another model or settings, and skipping the files already written would keep
the old ones.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import DataError
from harness.scoring.submission.validate import SUBMISSION_HEADER
from harness.scoring.submission.write import challenge_lines, to_challenge_columns
from harness.storage import write_json_atomic, write_text_atomic

FORMATS = ("challenge", "csv", "jsonl")
BUDGET = "budget"  # the status of a row written because the time budget ran out
FAILED = "failed"  # the status of a row whose file did not decode (or gave no finite features)
REDONE = (BUDGET, FAILED)  # statuses a rerun predicts again (the file may have been fixed)
IDENTITY_SUFFIX = ".predict.json"
# what each setting of the identity file is called on the command line
IDENTITY_NAMES = {
    "bundle": "model bundle",
    "format": "--format",
    "classes": "class list",
    "top_k": "--top-k",
    "middle": "--middle",
}
REASON_HEADER = ("file_id", "path", "status", "reason")


@dataclass(frozen=True)
class PredictedRow:
    """One file's output row: its key (file id or path), probabilities over the bundle's
    classes, and how they were made (status ``ok``, ``failed``, ``silent`` or ``budget``)."""

    path: str
    file_id: str
    proba: np.ndarray
    status: str = "ok"
    reason: str = ""


class PredictionFile:
    """An output file of one format, appended batch by batch.

    Parameters
    ----------
    path : Path
        ``--out``.
    fmt : str
        One of :data:`FORMATS`.
    classes : list of str
        The bundle's classes (column order of each row's ``proba``).
    top_k : int
        Genres named per row (csv, jsonl), at least 1 (at most the number of classes).
    bundle : str
        What identifies the bundle (the sha256 of its ``manifest.json``).
    middle : bool
        Whether ``--middle`` cut the tracks.
    """

    def __init__(
        self,
        path: Path,
        *,
        fmt: str,
        classes: list[str],
        top_k: int = 3,
        bundle: str = "",
        middle: bool = False,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.classes = list(classes)
        self.top_k = min(int(top_k), len(self.classes))
        self.reasons = self.path.with_name(self.path.name + ".reasons.csv")
        self.identity_path = self.path.with_name(self.path.name + IDENTITY_SUFFIX)
        self.identity = {
            "bundle": bundle,
            "format": fmt,
            "classes": self.classes,
            "top_k": self.top_k,
            "middle": bool(middle),
        }

    # ------------------------------------------------------------------ keys and resuming
    def key(self, row_or_path: PredictedRow | tuple[str, str]) -> str:
        """The resume key: the file id (challenge) or the absolute path."""
        path, file_id = (
            (row_or_path.path, row_or_path.file_id)
            if isinstance(row_or_path, PredictedRow)
            else row_or_path
        )
        return file_id if self.fmt == "challenge" else path

    def header(self) -> str:
        """The first line of a csv file (with its LF); "" for jsonl."""
        if self.fmt == "challenge":
            return ",".join(SUBMISSION_HEADER) + "\n"
        if self.fmt == "csv":
            return _csv_line(self.columns())
        return ""

    def columns(self) -> list[str]:
        tops = [c for k in range(1, self.top_k + 1) for c in (f"top{k}", f"top{k}_proba")]
        return ["path", "file_id", "status", "reason", *tops, *self.classes]

    def resume(self) -> set[str]:
        """Prepare the file for appending and return the keys already written.

        Creates it with its header (and its identity file) when absent; refuses a file written
        by another bundle or with other settings; drops a half-written last line; removes rows
        written only because the time budget ran out or the file failed (they are predicted
        again).
        """
        if not self.path.exists() or self.path.stat().st_size == 0:
            write_json_atomic(self.identity_path, self.identity)
            self.path.write_text(self.header(), "utf-8", newline="\n")
            if self.fmt == "challenge":
                self.reasons.write_text(_csv_line(REASON_HEADER), "utf-8", newline="\n")
            return set()
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        complete = text[: text.rfind("\n") + 1]
        header = self.header()
        if not complete.startswith(header):
            raise DataError(
                f"{self.path}: exists and is not a {self.fmt} output of this model (its first "
                "line differs); pass another --out, or delete the file to start over"
            )
        self._check_identity()
        lines = complete[len(header) :].splitlines(keepends=True)
        redo = self._redo_keys()
        keep = [line for line in lines if self._line_key(line) not in redo]
        if len(complete) != len(text) or len(keep) != len(lines):
            _replace(self.path, header + "".join(keep))
        if redo and self.fmt == "challenge":
            rows = self.reasons.read_text("utf-8").splitlines(keepends=True)
            _replace(self.reasons, "".join(r for r in rows if _first_field(r) not in redo))
        return {self._line_key(line) for line in keep}

    def _line_key(self, line: str) -> str:
        if self.fmt == "jsonl":
            record = json.loads(line)
            return record["path"]
        return _first_field(line)

    def _check_identity(self) -> None:
        """Refuse to add rows to a file that another bundle or other settings wrote."""
        try:
            written = json.loads(self.identity_path.read_text("utf-8"))
        except (OSError, ValueError):
            raise DataError(
                f"{self.path}: exists, but {self.identity_path.name} beside it, which says what "
                "wrote it, is missing or unreadable; pass another --out, or delete the file to "
                "start over"
            ) from None
        changed = [k for k in self.identity if written.get(k) != self.identity[k]]
        if changed:
            raise DataError(
                f"{self.path}: written with another {IDENTITY_NAMES[changed[0]]} "
                f"({changed[0]} {written.get(changed[0])!r}, now {self.identity[changed[0]]!r}); "
                "its rows would be kept for the files already there: pass another --out, or "
                "delete the file to start over"
            )

    def _redo_keys(self) -> set[str]:
        """Keys of the rows to predict again: the budget ran out, or the file failed."""
        if self.fmt == "challenge":
            if not self.reasons.exists():
                return set()
            rows = list(csv.reader(io.StringIO(self.reasons.read_text("utf-8"))))[1:]
            return {r[0] for r in rows if len(r) >= 3 and r[2] in REDONE}
        text = self.path.read_text("utf-8")
        if self.fmt == "jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.endswith("}")]
            return {r["path"] for r in records if r.get("status") in REDONE}
        rows = list(csv.reader(io.StringIO(text)))[1:]
        return {r[0] for r in rows if len(r) > 2 and r[2] in REDONE}

    # ------------------------------------------------------------------ writing
    def append(self, rows: list[PredictedRow]) -> None:
        """Append rows (flushed and synced: they survive a crash right after)."""
        if not rows:
            return
        if self.fmt == "challenge":
            proba = np.vstack([r.proba for r in rows])
            text = "".join(
                challenge_lines(
                    [r.file_id for r in rows], to_challenge_columns(proba, self.classes)
                )
            )
            notes = [_csv_line([r.file_id, r.path, r.status, r.reason]) for r in rows if r.reason]
            if notes:
                _append(self.reasons, "".join(notes))
        elif self.fmt == "csv":
            text = "".join(_csv_line(self._values(r)) for r in rows)
        else:
            text = "".join(json.dumps(self._record(r)) + "\n" for r in rows)
        _append(self.path, text)

    def _top(self, proba: np.ndarray) -> list[tuple[str, float]]:
        order = np.argsort(-proba, kind="stable")[: self.top_k]
        return [(self.classes[i], float(proba[i])) for i in order]

    def _values(self, row: PredictedRow) -> list[str]:
        tops = [v for genre, p in self._top(row.proba) for v in (genre, repr(p))]
        return [
            row.path,
            row.file_id,
            row.status,
            row.reason,
            *tops,
            *(repr(float(p)) for p in row.proba),
        ]

    def _record(self, row: PredictedRow) -> dict:
        return {
            "path": row.path,
            "file_id": row.file_id,
            "status": row.status,
            "reason": row.reason,
            "top": [[g, p] for g, p in self._top(row.proba)],
            "probabilities": {c: float(p) for c, p in zip(self.classes, row.proba, strict=True)},
        }


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _first_field(line: str) -> str:
    return next(csv.reader([line]))[0] if line.strip() else ""


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _replace(path: Path, text: str) -> None:
    """Rewrite ``path`` atomically (a temporary file beside it, then ``os.replace``)."""
    write_text_atomic(path, text)
