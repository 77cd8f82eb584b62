"""A folder per label, as GTZAN ships it: ``ROOT/<label>/.../<clip>.<ext>``.

The first folder level under the root is the label; deeper folders are allowed (an artist or an
album folder, say) and are kept in the clip's key. Any audio file soundfile decodes counts
(:data:`AUDIO_EXTENSIONS`); other files (GTZAN's ``.mf`` lists, notes) and hidden entries are
ignored. A label folder without audio, or audio sitting at the top of the root, is refused with
one line.

No artist is known in this layout, so the split is grouped by audio fingerprint
(:mod:`harness.data.catalogue`), except for GTZAN itself: a root whose label folders are GTZAN's
ten genres and whose files follow its naming (``blues/blues.00000.wav``, any audio extension)
gets the built-in fault-filtered split (``gtzan_fault_filtered.csv``, source in its header);
``--resplit`` ignores it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd

from harness.data.catalogue import prepare_catalogue
from harness.data.prepared import PreparedData
from harness.errors import DataError

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".flac",
        ".mp3",
        ".ogg",
        ".oga",
        ".opus",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".w64",
        ".rf64",
    }
)
GTZAN_GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
GTZAN_SPLIT_FILE = "gtzan_fault_filtered.csv"
_GTZAN_NAME = re.compile(r"^([a-z]+)\.(\d{5})$")


def is_audio(path: Path) -> bool:
    """An audio file by its extension (any case), not hidden."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def audio_files(folder: Path) -> Iterator[Path]:
    """Audio files under ``folder`` at any depth (hidden files and folders skipped; linked
    folders followed, each real folder once), sorted."""
    found, seen = [], set()
    for where, subfolders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(where)
        if real in seen:  # a link back up the tree
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        paths = (Path(where) / name for name in names if not name.startswith("."))
        found += [path for path in paths if path.is_file() and is_audio(path)]
    yield from sorted(found)


def label_folders(root: Path) -> list[Path]:
    """The root's non-hidden sub-folders, sorted by name."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def holds_audio(folder: Path) -> bool:
    """True when ``folder`` holds at least one audio file at any depth."""
    return next(audio_files(folder), None) is not None


def folders_catalogue(root: Path) -> pd.DataFrame:
    """The catalogue table (:mod:`harness.data.catalogue`) of a folder-per-label root.

    Raises
    ------
    DataError
        A label folder holds no audio, audio sits at the top of the root, or fewer than two
        label folders hold audio.
    """
    root = Path(root)
    loose = [p for p in root.iterdir() if p.is_file() and is_audio(p)]
    if loose:
        raise DataError(
            f"{root}: {len(loose)} audio files sit at the top of the root (first: "
            f"{loose[0].name}); expected one folder per label: move each file into its "
            "label's folder (ROOT/<label>/<file>)"
        )
    rows = []
    for folder in label_folders(root):
        found = list(audio_files(folder))
        if not found:
            others = sum(1 for p in folder.rglob("*") if p.is_file())
            raise DataError(
                f"{folder}: label folder '{folder.name}' holds no audio files ({others} other "
                f"files); expected audio ({', '.join(sorted(AUDIO_EXTENSIONS)[:6])}, ...): "
                "add its clips or remove the folder"
            )
        for path in found:
            key = path.relative_to(root).as_posix()
            rows.append({"key": key, "path": str(path.absolute()), "label": folder.name})
    catalogue = pd.DataFrame(rows, columns=["key", "path", "label"]).set_index("key")
    if catalogue["label"].nunique() < 2:
        only = catalogue["label"].iloc[0] if len(catalogue) else None
        nested = only is not None and any(p.is_dir() for p in (root / only).iterdir())
        hint = (
            f"; is '{only}' a folder of label folders? then pass --root {root / only}"
            if nested
            else ""
        )
        raise DataError(
            f"{root}: {catalogue['label'].nunique()} label folder holds audio, expected one "
            f"folder per label and at least two labels{hint}"
        )
    return catalogue


def gtzan_split(catalogue: pd.DataFrame) -> dict[str, str] | None:
    """key -> split of GTZAN's fault-filtered split when the catalogue is GTZAN (its ten genre
    folders, every file named ``<genre>.<5 digits>.<ext>`` directly inside them); else None."""
    if tuple(sorted(catalogue["label"].unique())) != GTZAN_GENRES:
        return None
    stems = {}
    for key, label in zip(catalogue.index, catalogue["label"], strict=True):
        parts = key.split("/")
        match = _GTZAN_NAME.match(Path(parts[-1]).stem)
        if len(parts) != 2 or match is None or match.group(1) != label:
            return None
        stems[f"{label}/{Path(parts[-1]).stem}"] = key
    table = load_gtzan_split()
    return {stems[s]: split for s, split in table.items() if s in stems}


def _labels_without_training(catalogue: pd.DataFrame, split_file: dict[str, str]) -> list[str]:
    """The labels none of whose clips the built-in split puts in training, sorted."""
    in_training = catalogue.index.map(lambda key: split_file.get(key) == "training")
    trained = set(catalogue.loc[in_training.to_numpy(dtype=bool), "label"])
    return sorted(set(catalogue["label"]) - trained)


def load_gtzan_split() -> dict[str, str]:
    """The built-in GTZAN fault-filtered split: ``<genre>/<genre>.<nnnnn>`` -> split name."""
    text = resources.files("harness.data").joinpath(GTZAN_SPLIT_FILE).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    split = {}
    for line in lines[1:]:  # header: path,split
        path, name = line.rsplit(",", 1)
        split[path.rsplit(".", 1)[0]] = name
    return split


def load_folders(
    root: Path,
    *,
    task: str = "genre_top",
    resplit: bool = False,
    seed: int = 0,
    min_genre_count: int = 5,
) -> PreparedData:
    """Read a folder-per-label dataset into the PreparedData every later stage reads.

    Parameters
    ----------
    root : Path
        The folder whose sub-folders are the labels (GTZAN: its ``genres/``).
    task : str
        ``genre_top`` (the folder is the label) or ``genres_all`` (the same, as one tag).
    resplit : bool
        Ignore GTZAN's built-in split (other roots are always split by audio group).
    seed : int
        Seed of the split.
    min_genre_count : int
        ``genres_all``: drop labels with fewer training clips.
    """
    catalogue = folders_catalogue(Path(root))
    split_file = gtzan_split(catalogue)
    notes = []
    lacking = _labels_without_training(catalogue, split_file) if split_file else []
    if lacking and not resplit:  # a part of GTZAN: its split would leave labels untrained
        notes.append(
            f"GTZAN's folders recognised, but its built-in split gives {', '.join(lacking)} no "
            "training clip in this collection (a part of GTZAN?): split by audio instead"
        )
        split_file = None
    elif split_file is not None and not resplit:
        notes.append(
            "GTZAN recognised: the built-in fault-filtered split is used (repeated, distorted "
            "and mislabelled excerpts left out, artists kept apart); --resplit ignores it"
        )
    return prepare_catalogue(
        catalogue,
        root=Path(root),
        source="folders",
        task=task,
        resplit=resplit,
        seed=seed,
        min_genre_count=min_genre_count,
        split_file=split_file,
        notes=notes,
    )
