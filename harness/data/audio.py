"""Decode FMA clips with soundfile (libsndfile + mpg123) and give every clip a status.

Statuses (:data:`STATUSES`), first match wins:

- ``missing``: no file at the path.
- ``empty``: 0 bytes, an ID3 tag with no audio after it, or a file that decodes to 0 frames.
- ``corrupt``: the decoder raised; the exception text is kept in ``error``.
- ``non_finite``: the decoded samples hold NaN or infinite values (a float WAV / FLAC can store
  them; MP3 cannot). A failure status: no ``y``, no features, no model sees the clip; ``error``
  says how many samples and where the first one is.
- ``short``: decoded duration below ``DecodeConfig.min_duration`` (29 s by default; FMA's
  "30 s" clips decode to about 29.98 s).
- ``silent``: RMS of the (mono) signal below ``DecodeConfig.silence_rms``.
- ``ok``: anything else.

Warnings (:data:`WARNINGS`) flag a clip that decoded but deserves a look; it keeps its status
and stays usable. ``warnings`` holds ``flag (detail)`` items joined by ``"; "``, "" when none
(:func:`warning_flags` lists the flags). Thresholds (module constants):

- ``clipping``: more than :data:`CLIP_FRACTION` (0.1 %) of all samples (every channel) at
  ``|x| >= CLIP_LEVEL`` (0.999 of full scale). A clean master touches full scale a handful of
  times; one per thousand samples is a flattened waveform (synthetic clips stay below 3e-5).
- ``dc_offset``: the mean of some channel beyond :data:`DC_OFFSET` (0.1 of full scale) in
  absolute value; music averages to ~0 (the synthetic set stays below 0.01).
- ``extension_mismatch``: the header (:func:`sniff_format`: ``RIFF``/``RF64`` ... ``WAVE``,
  ``fLaC``, ``OggS``, ``FORM`` (AIFF), an ``ID3`` tag or an MPEG frame sync) is not the format
  the extension (.mp3, .wav, .flac, .ogg, .oga, .aif, .aiff) names. libsndfile decodes by
  content, so such a clip still decodes; the name is what is wrong.

What libsndfile 1.2.2 (soundfile 0.14) does with bad MP3s, measured on 2 s clips written with
``sf.write(path, y, sr, format="MP3")``:

- A file cut to half its bytes decodes **without an error** to fewer frames (17,903 of 44,100;
  a 30 s stereo clip cut in half decodes to 14.9 s): truncation is only visible in the decoded
  length, hence the ``short`` check after decoding. mpg123 does print "Warning: Xing stream size
  off by more than 1%" for it (and "Illegal Audio-MPEG-Header ... Trying to resync" for garbage)
  on the C-level stderr (file descriptor 2), not through libsndfile; :func:`decode` captures
  those lines (nothing reaches the terminal, also under ``--quiet``) and appends them to the
  clip's ``error`` ("decoder: ..."), which tells a truncated clip from a short one.
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
import threading
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from harness.errors import ParameterError

STATUSES: tuple[str, ...] = ("ok", "missing", "empty", "corrupt", "non_finite", "short", "silent")
WARNINGS: tuple[str, ...] = ("clipping", "dc_offset", "extension_mismatch")
TABLE_COLUMNS = ("status", "duration", "native_sr", "channels", "error", "warnings", "path")
#: ``clipping``: more than this fraction of the samples at ``|x| >= CLIP_LEVEL``.
CLIP_LEVEL = 0.999
CLIP_FRACTION = 1e-3
#: ``dc_offset``: some channel's mean beyond this (full scale = 1) in absolute value.
DC_OFFSET = 0.1
#: Extension -> the format its content should be (:func:`sniff_format`'s names).
EXTENSION_FORMATS: dict[str, str] = {
    ".mp3": "MP3",
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "Ogg",
    ".oga": "Ogg",
    ".aif": "AIFF",
    ".aiff": "AIFF",
}


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
        Root-mean-square level of ``y`` (full scale = 1.0); 0.0 when nothing decoded (and for
        ``non_finite`` clips), so it is always finite.
    warnings : str
        ``flag (detail)`` items of :data:`WARNINGS` joined by ``"; "``, "" when none.
    """

    y: np.ndarray | None
    sr: int
    status: str
    duration: float = 0.0
    native_sr: int = 0
    channels: int = 0
    error: str = ""
    rms: float = 0.0
    warnings: str = ""


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


def sniff_format(head: bytes) -> str:
    """The audio format a file's first bytes announce.

    Parameters
    ----------
    head : bytes
        The first 12 bytes (or more) of the file.

    Returns
    -------
    str
        ``"WAV"`` (RIFF/RF64 ... WAVE), ``"FLAC"`` (fLaC), ``"Ogg"`` (OggS), ``"AIFF"``
        (FORM ... AIFF/AIFC), ``"MP3"`` (an ID3v2 tag or an MPEG audio frame sync, 11 set bits),
        or ``""`` when none is recognised.
    """
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    return ""


def warning_flags(warnings: str) -> list[str]:
    """The flags (:data:`WARNINGS`) of a ``warnings`` text, in order ([] for "")."""
    return [item.split(" (", 1)[0] for item in str(warnings).split("; ") if item]


def _extension_warning(path: Path, head: bytes) -> str:
    """``extension_mismatch (...)`` when the header is not the format the extension names."""
    expected = EXTENSION_FORMATS.get(path.suffix.lower())
    found = sniff_format(head)
    if expected is None or found == expected:
        return ""
    what = f"{found} data" if found else f"an unrecognised header ({head[:4].hex(' ')})"
    return f"extension_mismatch ({path.suffix} file holds {what})"


def _signal_warnings(data: np.ndarray, sums: np.ndarray, path: Path, head: bytes) -> str:
    """The :data:`WARNINGS` of finite samples ``data`` (frames, channels); "" when none."""
    items = []
    clipped = int(np.count_nonzero(np.abs(data) >= CLIP_LEVEL))
    if clipped > CLIP_FRACTION * data.size:
        share = 100 * clipped / data.size
        items.append(f"clipping ({share:.2f}% of samples at |x| >= {CLIP_LEVEL:g})")
    means = sums / data.shape[0]
    worst = int(np.argmax(np.abs(means)))
    if abs(means[worst]) > DC_OFFSET:
        items.append(f"dc_offset (mean {means[worst]:+.3f} in channel {worst + 1})")
    mismatch = _extension_warning(path, head)
    if mismatch:
        items.append(mismatch)
    return "; ".join(items)


def _non_finite_error(data: np.ndarray, native_sr: int) -> str:
    """How many samples of ``data`` (frames, channels) are NaN or infinite, and where."""
    bad = ~np.isfinite(data)
    nan = int(np.count_nonzero(np.isnan(data)))
    inf = int(np.count_nonzero(bad)) - nan
    first = int(np.flatnonzero(bad.any(axis=1))[0])
    return (
        f"non-finite samples: {nan} NaN and {inf} infinite of {data.size} "
        f"(first at {first / native_sr:.3f} s)"
    )


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
        ``short`` and ``silent`` clips still carry ``y``; ``non_finite`` ones do not.
    """
    path = Path(path)
    sr0 = config.sr or 0
    try:
        size = path.stat().st_size
    except OSError:
        return DecodedClip(None, sr0, "missing", error=f"no file at {path}")
    if size == 0:
        return DecodedClip(None, sr0, "empty", error="0-byte file")
    notes: list[str] = []
    try:
        if _id3_only(path, size):
            return DecodedClip(None, sr0, "empty", error="ID3 tag only, no audio frames")
        with open(path, "rb") as f:
            head = f.read(12)
        with _captured_fd2(notes):
            data, native_sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # any decoder failure is a status, never a crash
        error = _noted(f"{type(exc).__name__}: {exc}", notes)
        return DecodedClip(None, sr0, "corrupt", error=error)
    clip = _classify(data, int(native_sr), path, head, config)
    return replace(clip, error=_noted(clip.error, notes)) if notes else clip


def _noted(error: str, notes: list[str]) -> str:
    """``error`` with the decoder's own lines appended (``decoder: a | b``, each line once)."""
    if not notes:
        return error
    note = "decoder: " + " | ".join(dict.fromkeys(notes))[:300]
    return f"{error}; {note}" if error else note


def _classify(
    data: np.ndarray, native_sr: int, path: Path, head: bytes, config: DecodeConfig
) -> DecodedClip:
    """Status, warnings and (mono, resampled) samples of decoded ``data`` (frames, channels)."""
    n, channels = data.shape
    sr_out = config.sr or native_sr
    if n == 0:
        return DecodedClip(None, sr_out, "empty", 0.0, native_sr, channels, "decoded 0 frames")
    duration = n / native_sr
    # float64 sums of float32 samples cannot overflow: they are finite iff every sample is.
    # One contiguous-stride column at a time: 10x faster than data.sum(axis=0, dtype=float64).
    sums = np.array([data[:, c].sum(dtype=np.float64) for c in range(channels)])
    if not np.isfinite(sums).all():
        error = _non_finite_error(data, native_sr)
        return DecodedClip(None, sr_out, "non_finite", duration, native_sr, channels, error)
    notes = _signal_warnings(data, sums, path, head)
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
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if duration < config.min_duration:
        status = "short"
    elif not rms >= config.silence_rms:
        status = "silent"
    else:
        status = "ok"
    return DecodedClip(y, sr, status, duration, native_sr, channels, "", rms, notes)


# fd 2 is the process's: one capture at a time, since decoding may run in threads
_FD2_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured_fd2(out: list[str]) -> Iterator[list[str]]:
    """Redirect the C-level stderr (where mpg123 writes its notes) into ``out``, one line each.

    Python's own writes to ``sys.stderr`` from another thread meanwhile land there too (this
    process writes its messages and progress to stdout); the capture lasts one ``sf.read``."""
    with _FD2_LOCK, tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            out.extend(line.strip() for line in text.splitlines() if line.strip())


def _status_row(path: Path, config: DecodeConfig) -> tuple:
    """Decode at the native rate (statuses do not depend on resampling) and keep the status."""
    native = DecodeConfig(
        sr=None,
        mono=True,
        min_duration=config.min_duration,
        silence_rms=config.silence_rms,
    )
    clip = decode(path, config=native)  # mpg123's notes are in its error
    return (
        clip.status,
        clip.duration,
        clip.native_sr,
        clip.channels,
        clip.error,
        clip.warnings,
        str(path),
    )


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
        ``native_sr`` (Hz), ``channels``, ``error``, ``warnings``, ``path``.
    """
    from joblib import Parallel, delayed

    keys = list(paths)
    items = [Path(paths[k]) for k in keys]
    show = sys.stderr.isatty() if progress is None else progress
    if n_jobs != 1 and len(items) > 1:
        runner = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", batch_size=8)
        rows_iter = runner(delayed(_status_row)(p, config) for p in items)
    else:
        rows_iter = (_status_row(p, config) for p in items)
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
