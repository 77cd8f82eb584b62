"""The synthetic set in the other dataset formats: a folder per label, or a CSV manifest.

:func:`generate_format` generates a synthetic FMA (:func:`harness.data.synth.generate.generate`,
no challenge folder) in a scratch folder beside ``config.root``, then writes::

    folders:   ROOT/<label>/<id>.mp3          a folder per label (the given, maybe wrong, label)
    manifest:  ROOT/manifest.csv              path,label,artist,album,labels (labels: the
               ROOT/audio/<id>.mp3            track's genres_all titles, ';'-separated;
                                              ``artists=False``: no artist, album columns)
    both:      ROOT/synthetic_truth.csv       track_id,fault,detail keyed by the clip's path
               ROOT/synthetic_config.json     the SynthConfig (min_duration for decoding)

Every fault of the FMA set is kept (empty, short, silent, corrupt = undecodable, duplicate,
mislabel), and :data:`SHIFTED` repeated excerpts are added: a clean clip's audio again, rotated
by 0.1 to 2 s (so the copy keeps the clip's length) and written as FLAC, in the same label
(``duplicate_of=<key>;shifted=<s>``). Label names are made folder-safe (``/`` becomes ``-``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from harness.data.fma import audio_path, genres_all_labels, load_genres, load_tracks
from harness.data.layout import FmaLayout
from harness.data.synth.generate import SynthConfig, SynthSummary, generate
from harness.errors import ParameterError

FORMATS = ("folders", "manifest")
MIN_SHIFT, MAX_SHIFT = 0.1, 2.0  # seconds


def safe_label(label: str) -> str:
    """A label usable as a folder name: ``/`` (``Old-Time / Historic``) becomes ``-``."""
    return str(label).replace(" / ", "-").replace("/", "-").strip()


def _prepare_root(root: Path, *, overwrite: bool) -> None:
    if root.exists() and any(root.iterdir()):
        if not (root / "synthetic_config.json").exists():
            raise ParameterError(
                f"{root} exists and is not a synthetic set (no synthetic_config.json); pass "
                "an empty or new --root"
            )
        if not overwrite:
            raise ParameterError(
                f"{root} already holds a synthetic set (synthetic_config.json); pass --force "
                "to replace it, or another --root to keep it"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def check_artists_option(*, format: str, artists: bool) -> None:
    """``--no-artists`` is for a manifest: a folder per label never names artists, and the
    FMA layout always does."""
    if not artists and format != "manifest":
        raise ParameterError(
            f"--no-artists applies to --format manifest only (got --format {format}): a folder "
            "per label names no artists, and the FMA layout always does"
        )


def generate_format(
    config: SynthConfig,
    *,
    format: str,
    n_jobs: int = -1,
    overwrite: bool = False,
    artists: bool = True,
) -> SynthSummary:
    """Write the synthetic set at ``config.root`` as ``format`` (folders or manifest).

    Parameters
    ----------
    config : SynthConfig
        As for FMA; ``n_test`` and ``n_multi_root`` are ignored (no challenge folder, no
        metadata-only tracks).
    format : str
        ``folders`` or ``manifest``.
    overwrite : bool
        Replace a synthetic set already at ``config.root``.
    artists : bool
        Manifest only: list each clip's artist and album. Without them the manifest is a
        collection whose artists are unknown, split by audio fingerprint.
    """
    if format not in FORMATS:
        raise ParameterError(f"--format {format!r}: expected fma, {' or '.join(FORMATS)}")
    check_artists_option(format=format, artists=artists)
    root = Path(config.root)
    _prepare_root(root, overwrite=overwrite)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=root.parent))
    try:
        staged = dataclasses.replace(config, root=scratch / "fma", n_test=0, n_multi_root=0)
        summary = generate(staged, n_jobs=n_jobs, progress=False)
        keys, truth = _write_clips(staged, root, format=format, artists=artists)
        copies = _shifted_copies(config, root, keys, truth)
        if format == "manifest":
            _list_copies(root / "manifest.csv", copies)
        pd.concat([truth, copies], ignore_index=True).to_csv(
            root / "synthetic_truth.csv", index=False
        )
        shutil.copy(scratch / "fma" / "synthetic_config.json", root / "synthetic_config.json")
        write_config(root, format=format)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    truth = pd.concat([truth, copies], ignore_index=True)
    faults = truth["fault"].value_counts().sort_index().to_dict()
    return dataclasses.replace(
        summary,
        root=root,
        n_audio=summary.n_audio + faults["duplicate"] - summary.faults.get("duplicate", 0),
        n_test=0,
        n_metadata_only=0,
        faults=faults,
    )


def _write_clips(
    staged: SynthConfig, root: Path, *, format: str, artists: bool = True
) -> tuple[pd.Series, pd.DataFrame]:
    """Copy the staged clips into ``format`` (a manifest lists artist and album when
    ``artists``); return track_id -> key and the rekeyed truth."""
    layout = FmaLayout(staged.root)
    tracks = load_tracks(layout.tracks_csv)
    audio_dir = layout.audio_dir(staged.subset)
    with_audio = [int(t) for t in tracks.index if audio_path(audio_dir, int(t)).exists()]
    tracks = tracks.loc[with_audio]
    labels = tracks[("track", "genre_top")].astype(str).map(safe_label)
    keys = {}
    for track_id, label in labels.items():
        name = f"{int(track_id):06d}.mp3"
        key = f"{label}/{name}" if format == "folders" else f"audio/{name}"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(audio_path(audio_dir, int(track_id)), root / key)
        keys[int(track_id)] = key
    keys = pd.Series(keys)
    if format == "manifest":
        tags = genres_all_labels(tracks, load_genres(layout.genres_csv))
        tag_lists = {
            int(t): ";".join(safe_label(g) for g in tags.columns[row.to_numpy() > 0])
            for t, row in tags.iterrows()
        }
        columns = {"path": keys.to_numpy(), "label": labels.reindex(keys.index).to_numpy()}
        if artists:
            columns["artist"] = tracks[("artist", "name")].reindex(keys.index).to_numpy()
            columns["album"] = tracks[("album", "title")].reindex(keys.index).to_numpy()
        columns["labels"] = [tag_lists.get(t, "") for t in keys.index]
        pd.DataFrame(columns).to_csv(root / "manifest.csv", index=False)
    truth = pd.read_csv(layout.truth_csv, dtype={"detail": str}, keep_default_na=False)
    truth["track_id"] = truth["track_id"].astype(int).map(keys)
    truth["detail"] = truth["detail"].str.replace(
        r"duplicate_of=(\d+)", lambda m: f"duplicate_of={keys[int(m.group(1))]}", regex=True
    )
    return keys, truth


def _shifted_copies(
    config: SynthConfig, root: Path, keys: pd.Series, truth: pd.DataFrame
) -> pd.DataFrame:
    """Write the repeated excerpts (a clean clip rotated by 0.1-2 s, as FLAC); their truth rows."""
    rng = np.random.default_rng([config.seed, 7])
    faulty = set(truth["track_id"]) | set(truth["detail"].str.extract(r"=([^;]+)")[0].dropna())
    clean = [k for k in keys.to_numpy() if k not in faulty]
    n = min(len(clean), max(1, int(round(config.duplicate * len(keys)))))
    rows = []
    next_id = int(keys.index.max()) + 1
    for source in rng.choice(clean, size=n, replace=False):
        y, sr = sf.read(root / source, dtype="float32")
        shift = float(rng.uniform(MIN_SHIFT, min(MAX_SHIFT, config.duration / 4)))
        copy = np.roll(y, -int(round(shift * sr)), axis=0)
        key = f"{Path(source).parent.as_posix()}/{next_id:06d}.flac"
        next_id += 1
        sf.write(root / key, copy, sr, format="FLAC")
        rows.append(
            {
                "track_id": key,
                "fault": "duplicate",
                "detail": f"duplicate_of={source};shifted={shift:.2f}",
            }
        )
    return pd.DataFrame(rows, columns=["track_id", "fault", "detail"])


def _list_copies(manifest: Path, copies: pd.DataFrame) -> None:
    """Add the repeated excerpts to the manifest with their source's label, artist and album."""
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    source = copies["detail"].str.extract(r"duplicate_of=([^;]+)")[0]
    rows = frame.set_index("path").loc[source.to_numpy()].reset_index(drop=True)
    rows.insert(0, "path", copies["track_id"].to_numpy())
    pd.concat([frame, rows], ignore_index=True).to_csv(manifest, index=False)


def write_config(root: Path, *, format: str) -> None:
    """Record the format beside the SynthConfig (``synthetic_config.json``)."""
    path = Path(root) / "synthetic_config.json"
    spec = json.loads(path.read_text("utf-8"))
    spec["format"] = format
    path.write_text(json.dumps(spec, indent=2, sort_keys=True), "utf-8")
