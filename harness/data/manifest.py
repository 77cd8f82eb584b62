"""A CSV manifest: one row per clip, ``path,label`` required.

Optional columns: ``artist``, ``album`` (the split is grouped by artist and the leakage checks
use both), ``split`` (training / validation / test: used as given), ``labels`` (several labels
separated by ``;``, for the multi-label task ``genres_all``), ``duration`` (seconds). Other
columns are ignored. Paths are relative to the CSV's folder (absolute paths are allowed).

Every bad row is refused with one line naming the file, the line (the header is line 1), what
was found and what to do: a missing column, an empty path or label, a file that does not exist,
a path listed twice, an unknown split name, a split column filled for some rows only, a duration
that is not a number.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from harness.data.catalogue import prepare_catalogue
from harness.data.prepared import PreparedData
from harness.data.splits import SPLITS
from harness.errors import DataError

REQUIRED = ("path", "label")
OPTIONAL = ("artist", "album", "split", "labels", "duration")
MANIFEST_NAME = "manifest.csv"
LABEL_SEPARATOR = ";"


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line (stripped, lower case); [] when unreadable."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return []
    return [c.strip().strip('"').lower() for c in first.rstrip("\r\n").split(",")]


def header_problem(path: Path) -> str:
    """Why a CSV file is not a manifest, in words: not UTF-8, another separator, or the
    required columns it lacks (with the closest name it has)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except UnicodeDecodeError:
        return "it is not UTF-8 text; save it as UTF-8"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    columns = read_header(path)
    for name, separator in (("semicolons", ";"), ("tabs", "\t")):
        if "," not in first and separator in first:
            return f"its header is separated by {name}; a manifest is comma-separated"
    missing = [c for c in REQUIRED if c not in columns]
    close = {c: difflib.get_close_matches(c, columns, n=1) for c in missing}
    hints = "".join(f"; is {m[0]!r} meant to be {c!r}?" for c, m in close.items() if m)
    found = ",".join(columns) or "nothing"
    return f"its header lacks the column(s) {','.join(missing)} (found: {found}){hints}"


def is_manifest(path: Path) -> bool:
    """A ``.csv`` file whose header has the ``path`` and ``label`` columns."""
    return (
        path.is_file() and path.suffix.lower() == ".csv" and set(REQUIRED) <= set(read_header(path))
    )


def find_manifests(root: Path) -> list[Path]:
    """The manifest CSVs directly inside ``root`` (``manifest.csv`` first)."""
    found = [p for p in sorted(Path(root).glob("*.csv")) if is_manifest(p)]
    return sorted(found, key=lambda p: p.name != MANIFEST_NAME)


def manifest_file(root: Path) -> Path:
    """The manifest of ``root``: the CSV itself, or the one manifest CSV inside the folder."""
    root = Path(root)
    if root.is_file():
        if not is_manifest(root):
            raise DataError(
                f"{root}: not a manifest: {header_problem(root)}; expected a CSV whose header "
                f"has the columns {','.join(REQUIRED)}"
            )
        return root
    found = find_manifests(root)
    if not found:
        raise DataError(f"{root}: no manifest CSV (with path,label columns) in this folder")
    if len(found) > 1 and found[0].name != MANIFEST_NAME:
        names = ", ".join(p.name for p in found)
        raise DataError(
            f"{root}: {len(found)} manifest CSVs ({names}); pass the one to use as --root "
            f"DIR/NAME.csv, or name it {MANIFEST_NAME}"
        )
    return found[0]


def _line(frame: pd.DataFrame, mask: pd.Series) -> int:
    """CSV line of the first row where ``mask`` holds (the header is line 1)."""
    return int(frame.index[mask.to_numpy().argmax()]) + 2


def read_manifest(path: Path) -> pd.DataFrame:
    """Read and validate a manifest into the catalogue table of :mod:`harness.data.catalogue`.

    Raises
    ------
    DataError
        One line per problem (see the module doc).
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot be read as CSV ({' '.join(str(exc).split())}); expected "
            "path,label rows"
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: no column {', '.join(missing)}; expected a header with path,label "
            f"(optional: {','.join(OPTIONAL)}), found {','.join(frame.columns)}"
        )
    frame = frame.map(lambda v: v.strip() if isinstance(v, str) else v)
    if frame.empty:
        raise DataError(f"{path}: the manifest lists no clips; expected one row per clip")
    for column in REQUIRED:
        empty = frame[column] == ""
        if empty.any():
            raise DataError(
                f"{path} line {_line(frame, empty)}: empty {column} ({int(empty.sum())} rows "
                f"have none); give every clip a {column} or remove its row"
            )
    keys = frame["path"].map(lambda p: Path(p).as_posix())
    repeated = keys.duplicated()
    if repeated.any():
        first = keys[repeated].iloc[0]
        lines = [int(i) + 2 for i in keys.index[keys == first]]
        raise DataError(
            f"{path} lines {lines[0]} and {lines[1]}: path {first!r} is listed twice; "
            "list each clip once (a clip with several labels: one row, labels=a;b)"
        )
    base = path.parent
    files = keys.map(lambda p: (base / p) if not Path(p).is_absolute() else Path(p))
    absent = ~files.map(lambda f: f.is_file())
    if absent.any():
        line = _line(frame, absent)
        raise DataError(
            f"{path} line {line}: file {keys[absent].iloc[0]!r} not found (looked for "
            f"{files[absent].iloc[0]}; {int(absent.sum())} rows point to no file); paths are "
            "relative to the manifest's folder: fix the path or remove the row"
        )
    catalogue = pd.DataFrame(
        {
            "path": files.map(lambda f: str(f.absolute())).to_numpy(),
            "label": frame["label"].to_numpy(),
        },
        index=pd.Index(keys.to_numpy(), name="key", dtype=object),
    )
    for column in ("artist", "album"):
        if column in frame.columns:
            catalogue[column] = frame[column].replace("", None).to_numpy()
    if "split" in frame.columns:
        catalogue["split"] = _splits(frame, path)
    if "labels" in frame.columns:
        catalogue["labels"] = _tag_lists(frame).to_numpy()
    if "duration" in frame.columns:
        catalogue["duration"] = _durations(frame, path).to_numpy()
    return catalogue


def _splits(frame: pd.DataFrame, path: Path) -> pd.Series:
    values = frame["split"]
    empty = values == ""
    if empty.all():
        return pd.Series([None] * len(values), index=values.index)  # no split given
    if empty.any():
        raise DataError(
            f"{path} line {_line(frame, empty)}: empty split ({int(empty.sum())} of "
            f"{len(values)} rows have none); give every row one of {', '.join(SPLITS)}, or "
            "remove the split column to let the harness split"
        )
    bad = ~values.isin(SPLITS)
    if bad.any():
        raise DataError(
            f"{path} line {_line(frame, bad)}: split {values[bad].iloc[0]!r} is not one of "
            f"{', '.join(SPLITS)}; fix the value (e.g. train -> training, valid -> "
            "validation), or remove the split column to let the harness split"
        )
    return values.to_numpy()


def _tag_lists(frame: pd.DataFrame) -> pd.Series:
    """``labels`` split on ``;``; a row without any keeps its ``label`` as its one tag."""
    tags = frame["labels"].map(lambda v: [t.strip() for t in v.split(LABEL_SEPARATOR) if t.strip()])
    return pd.Series(
        [t if t else [lab] for t, lab in zip(tags, frame["label"], strict=True)], index=tags.index
    )


def _durations(frame: pd.DataFrame, path: Path) -> pd.Series:
    values = pd.to_numeric(frame["duration"].replace("", None), errors="coerce")
    bad = values.isna() & (frame["duration"] != "")
    if bad.any():
        raise DataError(
            f"{path} line {_line(frame, bad)}: duration {frame['duration'][bad].iloc[0]!r} is "
            "not a number of seconds; fix it or leave the cell empty"
        )
    return values


def load_manifest(
    root: Path,
    *,
    task: str = "genre_top",
    resplit: bool = False,
    seed: int = 0,
    min_genre_count: int = 5,
) -> PreparedData:
    """Read a CSV manifest into the PreparedData every later stage reads.

    Parameters
    ----------
    root : Path
        The manifest CSV, or a folder holding it (``manifest.csv``, or its only CSV with
        path,label columns).
    task : str
        ``genre_top`` (the ``label`` column) or ``genres_all`` (the ``labels`` column).
    resplit : bool
        Ignore the ``split`` column; split grouped by artist (or audio) instead.
    seed : int
        Seed of the split the harness builds.
    min_genre_count : int
        ``genres_all``: drop labels with fewer training clips.
    """
    path = manifest_file(Path(root))
    catalogue = read_manifest(path)
    if "split" in catalogue.columns and catalogue["split"].isna().all():
        catalogue = catalogue.drop(columns="split")
    return prepare_catalogue(
        catalogue,
        root=path.parent,
        source="manifest",
        task=task,
        resplit=resplit,
        seed=seed,
        min_genre_count=min_genre_count,
        index_file=path,
    )
