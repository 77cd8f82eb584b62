"""Which format a dataset root is in, and the one loader for all of them.

Three formats sit behind one ``--root`` (``--format`` forces one):

- ``fma``: ``ROOT/fma_metadata/tracks.csv`` and ``ROOT/fma_<subset>/``
  (:mod:`harness.data.prepared`);
- ``folders``: a folder per label, as GTZAN ships (:mod:`harness.data.folders`);
- ``manifest``: a CSV with ``path,label`` columns, given as ``--root`` or inside it
  (:mod:`harness.data.manifest`).

:func:`detect_format` reads only names and one CSV header per candidate file (the manifest's own
paths when it must tell its audio folders from label folders); :func:`load_dataset` returns the
same :class:`~harness.data.prepared.PreparedData` for each.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.data.folders import holds_audio, label_folders, load_folders
from harness.data.layout import FmaLayout
from harness.data.manifest import (
    find_manifests,
    header_problem,
    is_manifest,
    load_manifest,
    read_manifest,
)
from harness.data.prepared import DEFAULT_MIN_GENRE_COUNT, PreparedData, prepare
from harness.errors import DataError, HarnessError, ParameterError

FORMATS = ("fma", "folders", "manifest")
EXPECTED = (
    "expected fma_metadata/tracks.csv (the FMA layout), a folder per label holding audio "
    "(the GTZAN layout), or a CSV manifest with path,label columns"
)


def detect_format(root: Path, *, format: str | None = None) -> str:
    """The format of ``root`` (``format`` when given, after checking that it fits).

    Raises
    ------
    ParameterError
        ``format`` is not one of :data:`FORMATS`.
    DataError
        ``root`` does not exist, holds none of the formats, or holds both a manifest and label
        folders that the manifest does not list (pass ``--format``).
    """
    if format is not None and format not in FORMATS:
        raise ParameterError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder; {EXPECTED}")
    if root.is_file():
        if is_manifest(root) and format in (None, "manifest"):
            return "manifest"
        if root.suffix.lower() == ".csv" and format in (None, "manifest"):
            raise DataError(f"{root}: not a manifest: {header_problem(root)}; {EXPECTED}")
        raise DataError(f"{root}: a file that is not a manifest CSV; {EXPECTED}")
    if format is not None:
        return format
    if FmaLayout(root).tracks_csv.is_file():
        return "fma"
    manifests = find_manifests(root)
    folders = [f.name for f in label_folders(root) if holds_audio(f)]
    if manifests and folders:
        folders = _unlisted(manifests[0], folders)
        if folders:
            raise DataError(
                f"{root}: holds both a manifest ({manifests[0].name}) and label folders it does "
                f"not list ({', '.join(folders[:5])}); pass --format manifest or --format "
                "folders, or move one of them out"
            )
    if manifests:
        return "manifest"
    if folders:
        return "folders"
    others = sorted(root.glob("*.csv"))
    why = f"; {others[0].name} is not a manifest: {header_problem(others[0])}" if others else ""
    raise DataError(
        f"{root}: no dataset found (no fma_metadata/tracks.csv, no label folder holding audio, "
        f"no manifest CSV{why}); {EXPECTED}"
    )


def _unlisted(manifest: Path, folders: list[str]) -> list[str]:
    """The folders no path of ``manifest`` lies in (all of them when it cannot be read)."""
    try:
        keys = read_manifest(manifest).index
    except HarnessError:
        return folders
    base = os.path.abspath(manifest.parent)
    listed = set()
    for key in keys:  # relative to the manifest's folder, or absolute
        relative = os.path.relpath(os.path.normpath(os.path.join(base, str(key))), base)
        listed.add(relative.split(os.sep, 1)[0])
    return [f for f in folders if f not in listed]


def load_dataset(
    *,
    root: Path,
    format: str | None = None,
    subset: str = "small",
    task: str = "genre_top",
    resplit: bool = False,
    seed: int = 0,
    test_dir: Path | None = None,
    min_genre_count: int = DEFAULT_MIN_GENRE_COUNT,
    require_audio: bool = True,
) -> PreparedData:
    """Load any dataset root: FMA (:func:`~harness.data.prepared.prepare`, every argument), a
    folder per label or a manifest (``subset``, ``test_dir`` and ``require_audio`` are FMA's
    only: a test folder of challenge clips belongs to an FMA root).

    Parameters
    ----------
    root : Path
        The dataset root (or the manifest CSV).
    format : str, optional
        ``fma``, ``folders`` or ``manifest``; None detects it (:func:`detect_format`).
    """
    kind = detect_format(Path(root), format=format)
    common = {"task": task, "resplit": resplit, "seed": seed, "min_genre_count": min_genre_count}
    if kind == "fma":
        return prepare(
            root=Path(root), subset=subset, test_dir=test_dir, require_audio=require_audio, **common
        )
    if kind == "folders":
        return load_folders(Path(root), **common)
    return load_manifest(Path(root), **common)
