"""Decode FMA clips with soundfile (libsndfile + mpg123) and give every clip a status.

Statuses (:data:`STATUSES`), first match wins:

- ``missing``: no file at the path.
- ``empty``: 0 bytes, an ID3 tag with no audio after it, or a file that decodes to 0 frames.
- ``corrupt``: the decoder raised; the exception text is kept in ``error``.
- ``short``: decoded duration below ``DecodeConfig.min_duration`` (29 s by default; FMA's
  "30 s" clips decode to about 29.98 s).
- ``silent``: RMS of the (mono) signal below ``DecodeConfig.silence_rms``.
- ``ok``: anything else.

What libsndfile 1.2.2 (soundfile 0.14) does with bad MP3s, measured on 2 s clips written with
``sf.write(path, y, sr, format="MP3")``:

- A file cut to half its bytes decodes **without an error** to fewer frames (17,903 of 44,100;
  a 30 s stereo clip cut in half decodes to 14.9 s): truncation is only visible in the decoded
  length, hence the ``short`` check after decoding. mpg123 does print "Warning: Xing stream size
  off by more than 1%" for it (and "Illegal Audio-MPEG-Header ... Trying to resync" for garbage)
  on the C-level stderr, not through libsndfile; :func:`decode_status_table` captures those lines
  and appends them to ``error`` ("decoder: ..."), which tells a truncated clip from a short one.
- A file cut to its first few hundred bytes, random bytes, zeros, text, a bare ID3 tag and a
  0-byte file all raise ``LibsndfileError: Error opening '...': File does not exist or is not a
  regular file (possibly a pipe?)``, a misleading text for "format not recognised". The 0-byte and
  tag-only cases are caught before decoding and reported as ``empty``; the rest are ``corrupt``.

:func:`decode` never raises for a bad clip; only a bad :class:`DecodeConfig` raises.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from harness.errors import ParameterError

STATUSES: tuple[str, ...] = ("ok", "missing", "empty", "corrupt", "short", "silent")
TABLE_COLUMNS: tuple[str, ...] = ("status", "duration", "native_sr", "channels", "error", "path")


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode a clip.

    Parameters
    ----------
    sr : int or None
        Target sample rate in Hz; None keeps the native rate.
    mono : bool
        Average the channels. With False, ``y`` has shape (channels, samples).
    min_duration : float
        Clips shorter than this (seconds, decoded length) get status ``short``.
    silence_rms : float
        Clips whose RMS (full scale = 1) is below this get status ``silent``.
    res_type : str
        ``librosa.resample`` method used when ``sr`` differs from the native rate.
    """

    sr: int | None = None
    mono: bool = True
    min_duration: float = 29.0
    silence_rms: float = 1e-4
    res_type: str = "soxr_hq"

    def __post_init__(self) -> None:
        if self.sr is not None and (not isinstance(self.sr, int) or self.sr <= 0):
            raise ParameterError(f"DecodeConfig.sr must be a positive int or None, got {self.sr}")
        if self.min_duration < 0 or self.silence_rms < 0:
            raise ParameterError("DecodeConfig.min_duration and silence_rms must be >= 0")


@dataclass(frozen=True)
class DecodedClip:
    """One decoded clip and its status.

    Attributes
    ----------
    y : np.ndarray or None
        float32 samples at ``sr``, shape (samples,) (or (channels, samples) when not mono);
        None for missing, empty and corrupt clips.
    sr : int
        Sample rate of ``y`` in Hz (the target rate, or the native one; 0 when unknown).
    status : str
        One of :data:`STATUSES`.
    duration : float
        Decoded length in seconds (0.0 when nothing decoded).
    native_sr : int
        Sample rate stored in the file (0 when unknown).
    channels : int
        Channels stored in the file (0 when unknown).
    error : str
        Decoder error or warning text, "" when none.
    rms : float
        Root-mean-square level of ``y`` (full scale = 1.0); 0.0 when nothing decoded.
    """

    y: np.ndarray | None
    sr: int
    status: str
    duration: float = 0.0
    native_sr: int = 0
    channels: int = 0
    error: str = ""
    rms: float = 0.0


def _id3_only(path: Path, size: int) -> bool:
    """True when the file is an ID3v2 tag and nothing (or only padding) after it."""
    if size > 1 << 20:
        return False
    with open(path, "rb") as f:
        head = f.read(10)
        if len(head) < 10 or head[:3] != b"ID3":
            return False
        tag = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        f.seek(tag)
        return not f.read().strip(b"\0")


def decode(path: str | Path, *, config: DecodeConfig = DecodeConfig()) -> DecodedClip:
    """Decode one clip to float32 (mono by default) and classify it.

    Parameters
    ----------
    path : str or Path
        An audio file soundfile can read (MP3, WAV, FLAC, OGG).
    config : DecodeConfig
        Target rate, channel handling and the thresholds for ``short`` and ``silent``.

    Returns
    -------
    DecodedClip
        ``short`` and ``silent`` clips still carry ``y``.
    """
    path = Path(path)
    sr0 = config.sr or 0
    try:
        size = path.stat().st_size
    except OSError:
        return DecodedClip(None, sr0, "missing", error=f"no file at {path}")
    if size == 0:
        return DecodedClip(None, sr0, "empty", error="0-byte file")
    try:
        if _id3_only(path, size):
            return DecodedClip(None, sr0, "empty", error="ID3 tag only, no audio frames")
        data, native_sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # any decoder failure is a status, never a crash
        return DecodedClip(None, sr0, "corrupt", error=f"{type(exc).__name__}: {exc}")
    n, channels = data.shape
    native_sr = int(native_sr)
    if n == 0:
        sr_out = config.sr or native_sr
        return DecodedClip(None, sr_out, "empty", 0.0, native_sr, channels, "decoded 0 frames")
    if not config.mono:
        y = np.ascontiguousarray(data.T)
    elif channels == 1:
        y = data[:, 0].copy()
    else:  # summing strided columns is ~20x faster than data.mean(axis=1) on (n, 2) float32
        y = data[:, 0].copy()
        for c in range(1, channels):
            y += data[:, c]
        y *= np.float32(1.0 / channels)
    sr = native_sr
    if config.sr is not None and config.sr != native_sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=config.sr, res_type=config.res_type)
        y = y.astype(np.float32, copy=False)
        sr = config.sr
    duration = n / native_sr
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if duration < config.min_duration:
        status = "short"
    elif not rms >= config.silence_rms:  # also catches NaN
        status = "silent"
    else:
        status = "ok"
    return DecodedClip(y, sr, status, duration, native_sr, channels, "", rms)


@contextlib.contextmanager
def _captured_fd2() -> Iterator[list[str]]:
    """Redirect the C-level stderr (where mpg123 writes its notes) into a list of lines."""
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            out.extend(line.strip() for line in text.splitlines() if line.strip())


def _status_row(path: Path, config: DecodeConfig, capture: bool) -> tuple:
    """Decode at the native rate (statuses do not depend on resampling) and keep the status."""
    native = DecodeConfig(
        sr=None,
        mono=True,
        min_duration=config.min_duration,
        silence_rms=config.silence_rms,
    )
    if capture:
        with _captured_fd2() as notes:
            clip = decode(path, config=native)
    else:
        clip, notes = decode(path, config=native), []
    error = clip.error
    if notes:
        note = "decoder: " + " | ".join(dict.fromkeys(notes))[:300]
        error = f"{error}; {note}" if error else note
    return (clip.status, clip.duration, clip.native_sr, clip.channels, error, str(path))


def decode_status_table(
    paths: Mapping[Hashable, str | Path],
    *,
    config: DecodeConfig = DecodeConfig(),
    n_jobs: int = -1,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Decode every clip once (in parallel) and tabulate its status.

    Parameters
    ----------
    paths : Mapping
        key (track_id or file_id) -> audio path.
    config : DecodeConfig
        Thresholds for ``short`` and ``silent`` (clips are decoded at their native rate).
    n_jobs : int
        joblib (loky) workers; -1 uses every core, 1 runs in this process.
    progress : bool or None
        Show a rich progress bar; None shows it when stderr is a terminal.

    Returns
    -------
    pd.DataFrame
        Index ``key`` (the mapping's keys, in order); columns ``status``, ``duration`` (s),
        ``native_sr`` (Hz), ``channels``, ``error``, ``path``.
    """
    from joblib import Parallel, delayed

    keys = list(paths)
    items = [Path(paths[k]) for k in keys]
    show = sys.stderr.isatty() if progress is None else progress
    parallel = n_jobs != 1 and len(items) > 1
    capture = parallel or not show
    if parallel:
        runner = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", batch_size=8)
        rows_iter = runner(delayed(_status_row)(p, config, capture) for p in items)
    else:
        rows_iter = (_status_row(p, config, capture) for p in items)
    rows = []
    with _progress(show, len(items)) as advance:
        for row in rows_iter:
            rows.append(row)
            advance()
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS), index=pd.Index(keys, name="key"))
    if not rows:
        table = table.astype({"duration": float, "native_sr": int, "channels": int})
    return table


@contextlib.contextmanager
def _progress(show: bool, total: int) -> Iterator:
    if not show:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task("decoding", total=total)
        yield lambda: bar.advance(task)
