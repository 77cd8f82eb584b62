"""A synthetic mini-FMA in the real layout: the harness's embedded default dataset.

:func:`generate` writes, under ``config.root`` (see :class:`harness.data.layout.FmaLayout`)::

    fma_metadata/tracks.csv      52 columns, the real 3-line header (byte-equal)
    fma_metadata/genres.csv      the real taxonomy table
    fma_<subset>/NNN/NNNNNN.mp3  procedural music carrying its genre (synth_music.py)
    fma_<subset>/checksums       ``sha1sum -c`` format, paths relative to fma_<subset>
    crowdai_fma_test/<uuid>.mp3  unlabeled challenge-style clips
    crowdai_fma_test_answers.csv file_id,genre (kept outside the test folder)
    synthetic_truth.csv          track_id,fault,detail: every planted fault (synth_faults.py)
    synthetic_config.json        the SynthConfig used

tracks.csv also lists ``n_multi_root`` metadata-only tracks (subset "large", two root genres,
empty genre_top, no audio in fma_<subset>), as the real file lists more tracks than a subset.
Splits come from :func:`harness.data.splits.make_splits` (artist-grouped, stratified).

tracks.csv is written last, so its presence marks a complete set (an interrupted run leaves
none). The same config (seed included) gives byte-identical files: every random draw comes from a
generator seeded by ``(seed, purpose, id)``, and LAME encoding is deterministic
(:mod:`harness.data.synth.mp3`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.fma import audio_path
from harness.data.layout import FmaLayout
from harness.data.splits import make_splits
from harness.data.synth.faults import plan_faults
from harness.data.synth.metadata import genre_counts, plan_catalogue, tracks_frame, write_tracks_csv
from harness.data.synth.mp3 import encode_mp3
from harness.data.synth.music import ArtistStyle, random_style, render_clip
from harness.data.taxonomy import packaged_genres
from harness.errors import ParameterError

SHORT_THRESHOLD = 0.95  # whole clips decode to >= this fraction of duration; short ones <= 2/3
CORRUPT_KEEP_BYTES = 64  # bytes of a real encoding kept before the zero fill of a corrupt file
_MANAGED = ("fma_metadata", "fma_small", "fma_medium", "crowdai_fma_test")


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Parameters
    ----------
    root : Path
        Output directory (created; an existing non-synthetic directory is refused).
    subset : str
        "small" (8 balanced genres) or "medium" (16 genres in fma_medium proportions).
    n_tracks : int
        Tracks with audio in fma_<subset> (faulty ones included).
    duration : float
        Clip length in seconds.
    sr : int
        Sample rate in Hz of the mp3s.
    channels : int
        1 or 2.
    compression_level : float or None
        MP3 compression in [0, 1): 0 is 128 kbps CBR, towards 1 is 32 kbps; None is 96 kbps
        (:mod:`harness.data.synth.mp3`).
    seed : int
        Same seed, same bytes.
    empty, short, silent, corrupt, duplicate, near_duplicate : float
        Fault rates as fractions of the audio tracks (at least one each when > 0).
    mislabel : float
        Fraction of training tracks given a wrong genre_top.
    n_test : int
        Clips in crowdai_fma_test.
    n_multi_root : int
        Metadata-only tracks with two root genres and no genre_top.
    """

    root: Path = Path("data/synthetic")
    subset: str = "small"
    n_tracks: int = 400
    duration: float = 30.0
    sr: int = 22050
    channels: int = 1
    compression_level: float | None = None
    seed: int = 0
    empty: float = 0.005
    short: float = 0.005
    silent: float = 0.005
    corrupt: float = 0.005
    duplicate: float = 0.01
    near_duplicate: float = 0.005
    mislabel: float = 0.05
    n_test: int = 80
    n_multi_root: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.subset not in ("small", "medium"):
            raise ParameterError(f"subset must be 'small' or 'medium', got {self.subset!r}")
        n_genres = 8 if self.subset == "small" else 16
        if self.n_tracks < 2 * n_genres:
            raise ParameterError(
                f"n_tracks must be at least {2 * n_genres} for subset {self.subset!r}, "
                f"got {self.n_tracks}"
            )
        if self.duration <= 0 or self.sr < 8000 or self.channels not in (1, 2):
            raise ParameterError(
                f"need duration > 0, sr >= 8000 and channels 1 or 2; got duration="
                f"{self.duration}, sr={self.sr}, channels={self.channels}"
            )
        rates = self.fault_rates()
        if any(not 0 <= r <= 0.5 for r in rates.values()) or sum(rates.values()) > 0.8:
            raise ParameterError(f"fault rates must be in [0, 0.5] and sum to <= 0.8: {rates}")
        if self.n_test < 0 or self.n_multi_root < 0:
            raise ParameterError("n_test and n_multi_root must be >= 0")

    def fault_rates(self) -> dict[str, float]:
        """The fault rates by name."""
        names = ("empty", "short", "silent", "corrupt", "duplicate", "near_duplicate", "mislabel")
        return {k: float(getattr(self, k)) for k in names}

    @property
    def min_duration(self) -> float:
        """Decode ``min_duration`` (s) that separates whole clips from planted short ones."""
        return SHORT_THRESHOLD * self.duration

    def to_json(self) -> str:
        """The config as JSON (root as a string, plus ``min_duration`` for decoding)."""
        data = {**dataclasses.asdict(self), "root": str(self.root)}
        return json.dumps({**data, "min_duration": self.min_duration}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SynthConfig:
        """Rebuild a config written by :meth:`to_json` (e.g. synthetic_config.json)."""
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote: counts and the time it took (seconds)."""

    root: Path
    n_tracks: int
    n_audio: int
    n_metadata_only: int
    n_test: int
    splits: dict[str, int]
    genres: dict[str, int]
    faults: dict[str, int]
    seconds: float


def _seed(config: SynthConfig, *keys: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, *keys])


def artist_style(config: SynthConfig, artist_id: int) -> ArtistStyle:
    """The mix colour of an artist (test-folder artists use ids >= 10**6)."""
    return random_style(_seed(config, 1, artist_id))


def _prepare_root(root: Path, *, overwrite: bool) -> None:
    if root.exists() and any(root.iterdir()) and not (root / "synthetic_config.json").exists():
        raise ParameterError(
            f"{root} exists and is not a synthetic FMA (no synthetic_config.json); "
            f"pass an empty or new --root"
        )
    if (root / "synthetic_config.json").exists() and not overwrite:
        raise ParameterError(
            f"{root} already holds a synthetic FMA (synthetic_config.json); pass --force "
            "(overwrite=True) to replace it, or another --root to keep it"
        )
    for name in _MANAGED:
        shutil.rmtree(root / name, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _render_job(job: dict) -> tuple[str, str]:
    """Render, encode, damage as planned, write; returns (path, sha1)."""
    fault, n = job["fault"], int(round(job["duration"] * job["sr"]))
    if fault == "empty":
        data = b""
    else:
        if fault == "silent":
            shape = (n, job["channels"]) if job["channels"] > 1 else (n,)
            y = np.zeros(shape, dtype=np.float32)
        else:
            y = render_clip(
                genre=job["genre"],
                style=job["style"],
                seed=job["seed"],
                duration=job["duration"],
                sr=job["sr"],
                channels=job["channels"],
            )
        data = encode_mp3(y, sr=job["sr"], compression_level=job["compression_level"])
        if fault == "corrupt":
            data = data[:CORRUPT_KEEP_BYTES] + bytes(len(data) - CORRUPT_KEEP_BYTES)
    _write_bytes(Path(job["path"]), data)
    return job["path"], hashlib.sha1(data).hexdigest()


def _track_jobs(config: SynthConfig, plan: pd.DataFrame, truth: pd.DataFrame) -> list[dict]:
    audio_dir = FmaLayout(config.root).audio_dir(config.subset)
    fault_of = dict(zip(truth["track_id"], truth["fault"], strict=True))
    detail_of = dict(zip(truth["track_id"], truth["detail"], strict=True))
    source_of = dict(zip(truth["track_id"], truth["source"], strict=True))
    true_of = dict(zip(truth["track_id"], truth["true_genre"], strict=True))
    rng = _seed(config, 3)
    jobs = []
    for tid in plan.index[plan["audio"]]:
        tid = int(tid)
        fault = fault_of.get(tid, "")
        src = int(source_of[tid]) if fault == "duplicate" else tid
        if fault == "duplicate" and not detail_of[tid].endswith("reencoded"):
            continue  # exact copies are made after rendering
        level = config.compression_level
        if fault == "duplicate":  # re-encoded near duplicate
            level = 0.0 if level is None or level > 0.25 else 0.5
        duration = config.duration * (rng.uniform(1 / 3, 2 / 3) if fault == "short" else 1.0)
        jobs.append(
            {
                "path": str(audio_path(audio_dir, tid)),
                "fault": fault if fault in ("empty", "silent", "corrupt") else "",
                "genre": true_of.get(tid, plan.at[tid, "genre"]),
                "style": artist_style(config, int(plan.at[src, "artist_id"])),
                "seed": int(_seed(config, 2, src).integers(2**31)),
                "duration": duration,
                "sr": config.sr,
                "channels": config.channels,
                "compression_level": level,
            }
        )
    return jobs


def _test_jobs(config: SynthConfig) -> tuple[list[dict], pd.DataFrame]:
    rng = _seed(config, 4)
    counts = genre_counts(config.subset, max(config.n_test, 16))
    names = np.array(list(counts))
    p = np.array(list(counts.values()), dtype=float)
    genres = rng.choice(names, size=config.n_test, p=p / p.sum())
    test_dir = FmaLayout(config.root).test_dir
    jobs, rows = [], []
    for i, genre in enumerate(genres):
        file_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        artist = 10**6 + int(rng.integers(0, max(config.n_test // 3, 1)))
        jobs.append(
            {
                "path": str(test_dir / f"{file_id}.mp3"),
                "fault": "",
                "genre": str(genre),
                "style": artist_style(config, artist),
                "seed": int(_seed(config, 5, i).integers(2**31)),
                "duration": config.duration,
                "sr": config.sr,
                "channels": config.channels,
                "compression_level": config.compression_level,
            }
        )
        rows.append((file_id, str(genre)))
    answers = pd.DataFrame(rows, columns=["file_id", "genre"]).sort_values("file_id")
    return jobs, answers


def _run_jobs(jobs: list[dict], *, n_jobs: int, progress: bool | None) -> dict[str, str]:
    from joblib import Parallel, delayed

    show = sys.stderr.isatty() if progress is None else progress
    results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_render_job)(j) for j in jobs)
    if not show:
        return dict(results)
    from rich.progress import Progress

    out = {}
    with Progress(transient=True) as bar:
        task = bar.add_task("synthesising clips", total=len(jobs))
        for path, digest in results:
            out[path] = digest
            bar.advance(task)
    return out


def generate(
    config: SynthConfig,
    *,
    n_jobs: int = -1,
    progress: bool | None = None,
    overwrite: bool = False,
) -> SynthSummary:
    """Generate a synthetic FMA under ``config.root`` (see the module docstring).

    Parameters
    ----------
    config : SynthConfig
        What to generate.
    n_jobs : int
        Parallel workers for rendering and encoding (joblib; -1 = all cores).
    progress : bool or None
        Show a rich progress bar; None shows it when stderr is a terminal.
    overwrite : bool
        Replace a synthetic FMA already at ``config.root`` (False: refuse, and change nothing).

    Returns
    -------
    SynthSummary
        Counts per split, genre and fault, and the wall time in seconds.
    """
    start = time.perf_counter()
    layout = FmaLayout(config.root)
    _prepare_root(config.root, overwrite=overwrite)
    plan = plan_catalogue(
        subset=config.subset,
        n_tracks=config.n_tracks,
        n_multi_root=config.n_multi_root,
        rng=_seed(config, 0),
    )
    split_frame = pd.DataFrame(
        {
            ("artist", "id"): plan["artist_id"],
            ("track", "genre_top"): plan["genre"].replace("", None),
        }
    )
    splits = make_splits(split_frame, seed=config.seed)
    truth, plan = plan_faults(plan, splits, rates=config.fault_rates(), rng=_seed(config, 6))
    tracks = tracks_frame(plan, splits=splits, rng=_seed(config, 7))
    layout.metadata_dir.mkdir(parents=True, exist_ok=True)
    _write_bytes(layout.genres_csv, packaged_genres().to_csv(lineterminator="\n").encode())
    jobs = _track_jobs(config, plan, truth)
    test_jobs, answers = _test_jobs(config)
    digests = _run_jobs(jobs + test_jobs, n_jobs=n_jobs, progress=progress)
    audio_dir = layout.audio_dir(config.subset)
    for row in truth[truth["fault"] == "duplicate"].itertuples():
        if not row.detail.endswith("reencoded"):
            src = audio_path(audio_dir, row.source)
            dst = audio_path(audio_dir, row.track_id)
            _write_bytes(dst, src.read_bytes())
            digests[str(dst)] = digests[str(src)]
    _write_checksums(audio_dir, digests)
    _write_text(layout.answers_csv, answers.to_csv(index=False, lineterminator="\n"))
    truth_csv = truth[["track_id", "fault", "detail"]].to_csv(index=False, lineterminator="\n")
    _write_text(layout.truth_csv, truth_csv)
    _write_text(config.root / "synthetic_config.json", config.to_json() + "\n")
    write_tracks_csv(tracks, layout.tracks_csv)  # last: its presence means a complete set
    audio = plan[plan["audio"]]
    return SynthSummary(
        root=config.root,
        n_tracks=len(plan),
        n_audio=len(audio),
        n_metadata_only=int((~plan["audio"]).sum()),
        n_test=len(test_jobs),
        splits=splits.reindex(audio.index).value_counts().sort_index().to_dict(),
        genres=audio["genre"].value_counts().sort_index().to_dict(),
        faults=truth["fault"].value_counts().sort_index().to_dict(),
        seconds=time.perf_counter() - start,
    )


def _write_checksums(audio_dir: Path, digests: dict[str, str]) -> None:
    lines = []
    for path, digest in digests.items():
        rel = Path(path).relative_to(audio_dir) if Path(path).is_relative_to(audio_dir) else None
        if rel is not None:
            lines.append(f"{digest}  {rel.as_posix()}\n")
    _write_text(audio_dir / "checksums", "".join(sorted(lines, key=lambda s: s[42:])))
