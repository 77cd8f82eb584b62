"""Feature-set definitions, the log-mel configuration and the cache fingerprint.

Feature sets (:data:`FEATURE_SETS`):

- ``"mfcc"``: MFCC-140, the FMA paper's 20 MFCCs x 7 statistics over frames, computed exactly as
  the dataset's reference ``features.py`` does, columns named and ordered as in ``features.csv``.
- ``"all"``: the paper's full 518-column set (11 librosa features x 7 statistics), opt-in since
  the constant-Q transform makes it about 10x slower than ``"mfcc"``.
- ``"logmel"``: log-mel spectrograms for the neural models, set by :class:`LogMelConfig`.
- ``"musicnn-mel"``: the input of the pretrained musicnn models (:func:`musicnn_logmel`: 16 kHz,
  96 bands, ``log10(1 + 10000 x)``), read by the pretrained-embedding stage
  (:mod:`harness.pretrained`).

The cache directory of a feature set is named by a hash of everything that changes its values:
the recipe (``RECIPE_VERSION`` and the constants below), the :class:`LogMelConfig`, and the
versions of librosa, numpy, scipy, soundfile, libsndfile and soxr. Change any of them and the
set is recomputed into a fresh directory. Each cached row also records its audio file's path,
size and mtime; a row whose file changed is recomputed in place. The decode thresholds
(``DecodeConfig.min_duration``, ``silence_rms``) only change a clip's status, which is
re-derived from the stored duration and RMS, never by decoding again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from harness.data.taxonomy import packaged_header
from harness.errors import ParameterError

FEATURE_SETS: tuple[str, ...] = ("mfcc", "all", "logmel", "musicnn-mel")
#: Feature sets stored as one spectrogram per clip (n_mels, n_frames), float16.
SPECTROGRAM_SETS: tuple[str, ...] = ("logmel", "musicnn-mel")
TABLE_SETS: tuple[str, ...] = ("mfcc", "all")  # feature sets stored as one row of statistics

#: Bump when a change in this package changes any stored value.
RECIPE_VERSION = 1

# The reference recipe (mdeff/fma features.py), one named constant per choice.
MFCC_N_FFT = 2048
MFCC_HOP_LENGTH = 512
MFCC_N_MELS = 128
N_MFCC = 20
CQT_N_BINS = 84
CQT_BINS_PER_OCTAVE = 12
#: The reference calls chroma_stft and the spectral_* features with ``S=stft`` and no ``sr``,
#: so librosa uses its default rate (22,050 Hz) to label the frequency bins. Kept so that our
#: values match the official features.csv (e.g. spectral_centroid of 44.1 kHz audio is halved).
REFERENCE_DEFAULT_SR = 22050
STATISTICS: tuple[str, ...] = ("mean", "std", "skew", "kurtosis", "median", "min", "max")
FEATURE_SIZES: dict[str, int] = {
    "chroma_stft": 12,
    "chroma_cqt": 12,
    "chroma_cens": 12,
    "tonnetz": 6,
    "mfcc": 20,
    "rmse": 1,
    "zcr": 1,
    "spectral_centroid": 1,
    "spectral_bandwidth": 1,
    "spectral_contrast": 7,
    "spectral_rolloff": 1,
}


@dataclass(frozen=True)
class LogMelConfig:
    """How log-mel spectrograms for the neural models are computed.

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clip is resampled to (``librosa.resample``, soxr_hq).
    n_fft : int
        FFT window length in samples (Hann window, centred frames).
    hop_length : int
        Samples between frames.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float, float or None
        Band edges in Hz; ``fmax=None`` means ``sr / 2``.
    htk : bool
        HTK mel scale ``M(f) = 1125 ln(1 + f / 700)`` when True; librosa's Slaney scale (linear
        below 1 kHz, logarithmic above) when False.
    top_db : float
        Floor in dB below each clip's maximum (``librosa.power_to_db(S, ref=1.0, top_db=...)``).
        Unused with ``compression="log10"``.
    compression : str
        ``"db"``: ``librosa.power_to_db`` as above; ``"log10"``: ``log10(1 + 10000 S)`` of the
        mel power ``S`` (musicnn's input, no floor).
    duration : float
        Seconds kept from the start of each clip; shorter clips are zero-padded and flagged.

    Examples
    --------
    >>> LogMelConfig().n_frames
    1249
    """

    sr: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 96
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    top_db: float = 80.0
    duration: float = 29.0
    compression: str = "db"

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ParameterError(f"LogMelConfig.{name} must be a positive int, got {value!r}")
        nyquist = self.sr / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= nyquist:
            raise ParameterError(
                f"LogMelConfig: need 0 <= fmin < fmax <= sr/2 = {nyquist:g} Hz, "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if not self.top_db > 0 or not self.duration > 0:
            raise ParameterError("LogMelConfig.top_db and duration must be > 0")
        if self.compression not in COMPRESSIONS:
            raise ParameterError(
                f"LogMelConfig.compression {self.compression!r}: expected one of "
                f"{', '.join(COMPRESSIONS)}"
            )

    def to_dict(self) -> dict:
        """The settings as JSON-ready values; ``compression`` only when it is not the default
        (so the cache keys and bundles of dB spectrograms are those written before it existed)."""
        values = dataclasses.asdict(self)
        if values["compression"] == "db":
            del values["compression"]
        return values

    @property
    def n_samples(self) -> int:
        """Samples kept per clip at ``sr``: ``round(duration * sr)``."""
        return int(round(self.duration * self.sr))

    @property
    def n_frames(self) -> int:
        """Frames per clip (centred STFT): ``1 + n_samples // hop_length``."""
        return 1 + self.n_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one stored spectrogram: (n_mels, n_frames)."""
        return (self.n_mels, self.n_frames)


COMPRESSIONS = ("db", "log10")

#: The musicnn models' input (Pons & Serra 2019): 16 kHz, STFT 512 / hop 256, 96 Slaney mel
#: bands, ``log10(1 + 10000 S)``; patches of 187 frames (3 s) are cut from it by the embedder.
MUSICNN_MEL = {"sr": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96, "compression": "log10"}


def musicnn_logmel(duration: float) -> LogMelConfig:
    """The musicnn input spectrogram of the first ``duration`` seconds of each clip.

    Examples
    --------
    >>> musicnn_logmel(9.5).shape
    (96, 594)
    """
    return LogMelConfig(**MUSICNN_MEL, duration=float(duration))


def set_logmel(feature_set: str, logmel: LogMelConfig) -> LogMelConfig:
    """The spectrogram settings of ``feature_set``: the run's ``logmel`` for ``"logmel"``, the
    musicnn input of the same duration for ``"musicnn-mel"``."""
    return musicnn_logmel(logmel.duration) if feature_set == "musicnn-mel" else logmel


def logmel_for_clips(min_duration: float) -> LogMelConfig:
    """The default log-mel recipe with a window no longer than the clips: ``duration`` is 29 s
    (FMA's clips), or ``min_duration`` s for a dataset of shorter clips (a synthetic set of
    10 s clips), so that no clip is mostly padding.

    Examples
    --------
    >>> logmel_for_clips(29.0).n_frames, logmel_for_clips(9.5).n_frames
    (1249, 410)
    """
    return LogMelConfig(duration=min(LogMelConfig.duration, float(min_duration)))


def check_feature_sets(feature_sets) -> tuple[str, ...]:
    """Validate and normalise a list (or comma-separated string) of feature-set names."""
    if isinstance(feature_sets, str):
        feature_sets = [s.strip() for s in feature_sets.split(",") if s.strip()]
    sets = tuple(dict.fromkeys(feature_sets))
    unknown = [s for s in sets if s not in FEATURE_SETS]
    if unknown or not sets:
        raise ParameterError(
            f"Unknown feature set {unknown[0]!r}; expected some of {', '.join(FEATURE_SETS)}"
            if unknown
            else f"No feature set given; expected some of {', '.join(FEATURE_SETS)}"
        )
    return sets


@lru_cache(maxsize=1)
def all_columns() -> pd.MultiIndex:
    """The 518 columns of ``features.csv``, sorted, names (feature, statistics, number)."""
    header = packaged_header("features")
    frame = pd.read_csv(io.StringIO(header), index_col=0, header=[0, 1, 2])
    cols = pd.MultiIndex.from_tuples(
        [tuple(str(x) for x in c) for c in frame.columns], names=["feature", "statistics", "number"]
    )
    expected = sum(FEATURE_SIZES.values()) * len(STATISTICS)
    if len(cols) != expected or not cols.is_monotonic_increasing:
        raise ParameterError(f"features_header.csv: expected {expected} sorted columns")
    return cols


def feature_columns(feature_set: str = "mfcc") -> pd.MultiIndex:
    """Columns of a table feature set: ``"mfcc"`` (140), ``"all"`` (518) or a feature name.

    Examples
    --------
    >>> feature_columns("mfcc")[0]
    ('mfcc', 'kurtosis', '01')
    """
    cols = all_columns()
    if feature_set == "all":
        return cols
    name = "mfcc" if feature_set == "mfcc" else feature_set
    if name not in FEATURE_SIZES:
        raise ParameterError(
            f"Unknown feature {feature_set!r}; expected 'all' or one of {', '.join(FEATURE_SIZES)}"
        )
    return cols[cols.get_level_values(0) == name]


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose output values the cache depends on."""
    import librosa
    import numpy
    import scipy
    import soundfile

    versions = {
        "librosa": librosa.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
    }
    try:
        import soxr

        versions["soxr"] = soxr.__version__
    except ImportError:  # pragma: no cover - librosa >= 0.10 depends on soxr
        versions["soxr"] = "absent"
    return versions


def set_spec(feature_set: str, *, logmel: LogMelConfig) -> dict:
    """Everything that determines the values of ``feature_set`` (JSON-ready)."""
    spec: dict = {
        "feature_set": feature_set,
        "recipe_version": RECIPE_VERSION,
        "decode": "native rate, mono (mean of channels), soundfile",
        "versions": library_versions(),
    }
    if feature_set in SPECTROGRAM_SETS:
        spec["logmel"] = set_logmel(feature_set, logmel).to_dict()
    else:
        spec["recipe"] = {
            "n_fft": MFCC_N_FFT,
            "hop_length": MFCC_HOP_LENGTH,
            "n_mels": MFCC_N_MELS,
            "n_mfcc": N_MFCC,
            "statistics": list(STATISTICS),
            "reference_default_sr": REFERENCE_DEFAULT_SR,
        }
    return spec


def set_dirname(spec: dict) -> str:
    """Directory name of a feature set's cache: ``<feature_set>-<12 hex digits of the spec>``."""
    text = json.dumps(spec, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{spec['feature_set']}-{digest}"
