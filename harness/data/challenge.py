"""A challenge test folder (``crowdai_fma_test/``): its clips and their expected file ids.

The folder holds ``<file_id>.mp3`` files; a file id is the name without ``.mp3``. An ids file
lists the expected ids one per line (or as a CSV whose first column is ``file_id``).
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import DataError


def challenge_mp3s(test_dir: Path | str) -> list[Path]:
    """The clips of a challenge test folder: its ``*.mp3`` files (any case), sorted by file id."""
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        what = "is a file, not a folder" if test_dir.exists() else "it does not exist"
        raise DataError(
            f"{test_dir}: challenge test folder not found ({what}); pass the crowdai_fma_test "
            "folder"
        )
    paths = sorted(
        (p for p in test_dir.iterdir() if p.suffix.lower() == ".mp3"), key=lambda p: p.stem
    )
    if not paths:
        raise DataError(f"test folder {test_dir} holds no .mp3 files; is it the right folder?")
    return paths


def fits_in_csv(file_id: str) -> bool:
    """Whether ``file_id`` can be a challenge CSV's first field as it is: non-empty, without a
    comma, quote or line break, and no spaces at its ends."""
    return bool(file_id) and file_id == file_id.strip() and not any(c in file_id for c in ',"\r\n')


def check_challenge_names(paths: list[Path]) -> None:
    """Refuse a clip whose file id cannot go in a challenge CSV, naming the file."""
    for path in paths:
        if not fits_in_csv(path.stem):
            raise DataError(
                f"{path}: its file id {path.stem!r} cannot go in a challenge CSV (a comma, quote, "
                "line break or spaces at its ends); rename the file"
            )


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
