"""Writing files so that nothing is half-written, and the digests that name their contents.

Manifests, checkpoints, predictions, checks.json, the feature cache's index files and the
changed-audio arrays go through :func:`atomic_target`: the content goes to a temporary file
beside the destination, which ``os.replace`` then moves into place, so a crash leaves either
the old file or the new one, never a torn one. (The cache's journal and memmap writes, the
synthetic set's writers and the submission writer still write their own temporary file.)
:func:`file_digest` is the one checksum helper (SHA-256 for bundles and checkpoints, SHA-1
where FMA's own checksums and the cache keys use it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_target(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path to write instead of ``path``; moved onto ``path`` when the block ends.

    Parameters
    ----------
    path : str or Path
        Destination. Its folder is created when missing.
    durable : bool
        Also ``fsync`` the file and its folder (the feature cache, which a killed run resumes).

    Yields
    ------
    Path
        ``.<name>.<pid>.tmp`` beside ``path``: unique per process, so two writers never share
        one. When the block raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text_atomic(path: str | Path, text: str, *, durable: bool = False) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with atomic_target(path, durable=durable) as tmp:
        tmp.write_text(text, "utf-8", newline="\n")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON (values it cannot encode as their ``str``)."""
    write_text_atomic(path, json.dumps(payload, indent=2, default=str, sort_keys=False) + "\n")


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in chunks.

    Parameters
    ----------
    path : str or Path
        The file.
    algorithm : str
        A :mod:`hashlib` name: ``"sha256"`` (bundles, checkpoints) or ``"sha1"`` (FMA's
        checksums, duplicate detection).
    """
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
