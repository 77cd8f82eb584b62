"""What ``fma-harness predict`` reads: the audio files named on the command line, and the
features of one file computed exactly as the run computed them for training.

One file's features (:func:`featurise`, run by every decode worker): decode with
:func:`harness.data.audio.decode` (native rate, mono: the run's decode), then

- log-mel models: :func:`harness.features.logmel_spectrogram` with the bundle's
  :class:`~harness.features.LogMelConfig`: the first ``duration`` seconds, a shorter clip
  zero-padded, as in training. A track longer than ``duration + LONG_TRACK_SLACK`` seconds is
  a *long track*: its log-mel covers the whole track and the model averages enough evaluation
  chunks to cover it end to end (:func:`long_track_chunks`). With ``middle``, a track is first
  cut to its middle ``MIDDLE_SECONDS`` (how FMA made its clips) and then treated as a clip.
- pretrained-embedding models: the musicnn spectrogram (the bundle's ``LogMelConfig``) of the
  whole file, however long (or of its middle); the embedder cuts it into 3 s patches.
- feature-table models: MFCC-140 over the whole decoded file (or its middle), as in training.

BLAS is held to one thread per file, as in the feature workers, so the values are those the
run cached, bit for bit. A file that does not decode, decodes to digital silence (a clip with
no signal: the run gives it the training prior) or gives non-finite features comes back with
no values and a reason; :func:`featurise` never raises.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data.audio import DecodeConfig, decode
from harness.errors import DataError
from harness.features.config import LogMelConfig
from harness.features.logmel import logmel_spectrogram
from harness.features.mfcc import mfcc_stats, stft_magnitude
from harness.features.worker import MUST_BE_FINITE, single_thread

#: What a folder is searched for (recursively): the formats libsndfile decodes.
AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3",
        ".wav",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".w64",
        ".caf",
    }
)
#: A file with one of these extensions lists audio paths, one per line (# comments allowed).
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list", ".m3u"})
#: Bundle kinds whose input is a spectrogram (the others read MFCC-140).
SPECTROGRAM_KINDS = ("logmel", "embeddings")
#: ``--middle`` keeps this many seconds from the middle of each track (FMA's clips).
MIDDLE_SECONDS = 30.0
#: Seconds beyond the training duration a clip may run and still be read as in training
#: (FMA's "30 s" clips decode to 29.98 s; the log-mel keeps 29 s).
LONG_TRACK_SLACK = 2.0


@dataclass(frozen=True)
class FeatureRecipe:
    """How one file becomes a model input (picklable, sent to the decode workers).

    Attributes
    ----------
    kind : str
        ``logmel``, ``embeddings`` (a musicnn spectrogram) or ``features`` (MFCC-140).
    logmel : LogMelConfig or None
        The training log-mel settings (``logmel`` and ``embeddings`` models).
    silence_rms : float
        A file whose RMS is below this is digital silence.
    predict_silent : bool
        Give silent files to the model (the reference rows ignore their input anyway).
    middle : bool
        Keep the middle ``MIDDLE_SECONDS`` of each track.
    waveform_sr : int or None
        An ``embeddings`` model reading an ``hf:`` source: the file's whole mono waveform
        resampled to this rate (Hz) instead of a spectrogram.
    """

    kind: str
    logmel: LogMelConfig | None
    silence_rms: float
    predict_silent: bool = False
    middle: bool = False
    waveform_sr: int | None = None


@dataclass(frozen=True)
class FileFeatures:
    """One file's model input, or why it has none.

    Attributes
    ----------
    values : np.ndarray or None
        float16 log-mel (n_mels, frames), float32 MFCC-140 (140,) or a float32 waveform
        (samples,) (``waveform_sr``); None with a ``reason``.
    status : str
        ``ok``, ``failed`` (no decode or no finite features) or ``silent``.
    reason : str
        Why there are no values ("" when there are).
    duration : float
        Decoded length in seconds (0.0 when nothing decoded).
    long : bool
        A log-mel over a whole long track (see the module docstring).
    """

    values: np.ndarray | None
    status: str
    reason: str = ""
    duration: float = 0.0
    long: bool = False


def find_audio(inputs: list[Path]) -> list[Path]:
    """The audio files ``inputs`` name, in order, each once (absolute paths).

    A folder is searched recursively for :data:`AUDIO_EXTENSIONS` (sorted by path); a file
    with a :data:`LIST_EXTENSIONS` extension lists paths one per line (relative ones from its
    folder; a folder listed there is searched too); any other file is taken as audio whatever
    its extension.

    Raises
    ------
    DataError
        An input that does not exist or cannot be read, a folder with no audio, an empty list.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found.update(dict.fromkeys(_audio_in(item)))
        elif item.suffix.lower() in LIST_EXTENSIONS:
            for listed in _listed(item):  # a listed file that is missing becomes a failed row
                found.update(dict.fromkeys(_audio_in(listed) if listed.is_dir() else [listed]))
        elif not item.exists():
            raise DataError(f"{item}: no such file or folder; check the path")
        elif not os.access(item, os.R_OK):
            raise DataError(f"{item}: cannot be read (permission denied); fix its permissions")
        else:
            found[item.absolute()] = None
    return list(found)


def _audio_in(folder: Path) -> list[Path]:
    """The audio files in ``folder`` and below, sorted by path (absolute)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise DataError(
            f"{folder}: no audio files in this folder or below (looked for "
            f"{', '.join(sorted(AUDIO_EXTENSIONS))}); pass a folder of clips"
        )
    return [p.absolute() for p in files if p.is_file()]


def _listed(list_file: Path) -> list[Path]:
    try:
        lines = list_file.read_text("utf-8-sig").splitlines()  # a BOM, as Notepad saves
    except OSError as exc:
        raise DataError(f"{list_file}: cannot read this list of files ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(
            f"{list_file}: not a UTF-8 text list of paths; pass audio files or a folder"
        ) from None
    paths = [line.strip() for line in lines]
    paths = [p for p in paths if p and not p.startswith("#")]
    if not paths:
        raise DataError(f"{list_file}: lists no files; write one audio path per line")
    return [(list_file.parent / p).absolute() for p in paths]


def featurise(path: Path | str, recipe: FeatureRecipe) -> FileFeatures:
    """Decode one file and compute its model input (see the module docstring); never raises."""
    try:
        with single_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant frames: NaN skew, judged below
            return _featurise(Path(path), recipe)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        return FileFeatures(None, "failed", f"failed: {type(exc).__name__}: {exc}"[:300])


def _featurise(path: Path, recipe: FeatureRecipe) -> FileFeatures:
    clip = decode(path, config=DecodeConfig(min_duration=0.0, silence_rms=recipe.silence_rms))
    if clip.y is None:
        return FileFeatures(None, "failed", f"{clip.status}: {clip.error}"[:300], clip.duration)
    if clip.status == "silent" and not recipe.predict_silent:
        reason = f"silent: RMS {clip.rms:.2g} below {recipe.silence_rms:g} (training prior)"
        return FileFeatures(None, "silent", reason, clip.duration)
    y = middle(clip.y, sr=clip.sr) if recipe.middle else clip.y
    values, long = features_of(y, sr=clip.sr, recipe=recipe)
    # as in the run's cache: a silent clip may have NaN statistics (the reference models that
    # take it ignore their input); any other clip with them is refused
    if clip.status in MUST_BE_FINITE and not np.isfinite(values).all():
        bad = int(np.count_nonzero(~np.isfinite(values)))
        reason = f"failed: {bad} of {values.size} feature values are NaN or infinite"
        return FileFeatures(None, "failed", reason, clip.duration)
    return FileFeatures(values, "ok", "", clip.duration, long)


def features_of(y: np.ndarray, *, sr: int, recipe: FeatureRecipe) -> tuple[np.ndarray, bool]:
    """The model input of mono samples ``y`` at ``sr`` and whether it covers a long track."""
    if recipe.kind not in SPECTROGRAM_KINDS:
        return np.asarray(mfcc_stats(y, sr=sr, magnitude=stft_magnitude(y)), np.float32), False
    if recipe.waveform_sr is not None:  # as the run's decode: mono, then resampled
        import librosa

        rate, res_type = recipe.waveform_sr, DecodeConfig().res_type
        if sr != rate:
            y = librosa.resample(y, orig_sr=sr, target_sr=rate, res_type=res_type)
        y = np.asarray(y, dtype=np.float32)
        duration = (recipe.logmel or LogMelConfig()).duration
        if recipe.middle or y.shape[0] / rate <= duration + LONG_TRACK_SLACK:
            # a clip as the run's cache holds it: cut or zero-padded to the training duration
            samples = int(round(duration * rate))
            return np.pad(y[:samples], (0, max(0, samples - y.shape[0]))), False
        return y, True
    config = recipe.logmel or LogMelConfig()
    seconds = y.shape[0] / sr
    long = not recipe.middle and seconds > config.duration + LONG_TRACK_SLACK
    if recipe.kind == "embeddings" and seconds > config.duration:  # every patch of the file
        long = True
    if long:
        config = dataclasses.replace(config, duration=seconds)
    spec, _ = logmel_spectrogram(y, sr=sr, config=config)
    return np.asarray(spec, dtype=np.float16), long


def middle(y: np.ndarray, *, sr: int, seconds: float = MIDDLE_SECONDS) -> np.ndarray:
    """The middle ``seconds`` of ``y`` (all of it when shorter)."""
    keep = int(round(seconds * sr))
    if y.shape[0] <= keep:
        return y
    start = (y.shape[0] - keep) // 2
    return y[start : start + keep]


def long_track_chunks(frames: int, *, chunk_frames: int, n_eval_chunks: int) -> int:
    """Evaluation chunks for a long track: enough to cover all ``frames``, at least the
    model's ``n_eval_chunks``."""
    return max(n_eval_chunks, math.ceil(frames / chunk_frames))


def warm_up(recipe: FeatureRecipe) -> None:
    """Compute the recipe once on 2 s of noise in this process before workers start (librosa
    compiles its numba kernels on first use; see :func:`harness.features.worker.warm_up`)."""
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 2 * 22050).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features_of(noise, sr=22050, recipe=dataclasses.replace(recipe, middle=True))
