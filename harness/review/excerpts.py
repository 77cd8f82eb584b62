"""What a card plays and shows: a short audio excerpt and a small log-mel picture per clip.

An excerpt is at most :data:`EXCERPT_S` seconds around the middle of the clip, mono at
:data:`EXCERPT_SR` Hz, written as OGG/Vorbis (which Chromium and Firefox play from file://);
the picture is the excerpt's log-mel spectrogram as a PNG of about 240 x 90 pixels. Both lie
beside the page (``audio/``, ``mel/``), named after the clip's key, so the page's folder holds
the suspects' excerpts only, never the collection.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.checks.base import figure_png, new_figure
from harness.data.audio import DecodeConfig, decode
from harness.features.config import LogMelConfig
from harness.features.logmel import logmel_spectrogram
from harness.storage import write_bytes_atomic

EXCERPT_S = 10.0
EXCERPT_SR = 22050
AUDIO_DIR = "audio"
MEL_DIR = "mel"
N_MELS = 64
HOP_LENGTH = 512
N_FFT = 2048
TOP_DB = 80.0  # dB shown below the excerpt's loudest bin


@dataclass(frozen=True)
class Excerpt:
    """The files of one clip's excerpt, relative to the page's folder ("" when the clip does
    not decode), and its length in seconds."""

    audio: str = ""
    picture: str = ""
    seconds: float = 0.0


def safe_name(key: str) -> str:
    """A file name for a clip key (a track id, or a clip path for a folder dataset): the key
    itself when it is plain, else its readable part and a short hash."""
    text = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        return text
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", text)[-40:]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def middle(y: np.ndarray, *, sr: int, seconds: float = EXCERPT_S) -> np.ndarray:
    """At most ``seconds`` of ``y`` (shape (samples,)) centred on its middle."""
    n = int(round(seconds * sr))
    if len(y) <= n:
        return y
    start = (len(y) - n) // 2
    return y[start : start + n]


def mel_picture(y: np.ndarray, *, sr: int) -> bytes:
    """PNG bytes of the log-mel spectrogram (dB, ``N_MELS`` bands, the harness's own recipe:
    :func:`harness.features.logmel.logmel_spectrogram`) of ``y`` (samples,), its top 80 dB."""
    length = max(len(y), HOP_LENGTH) / sr
    config = LogMelConfig(sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, duration=length)
    db = logmel_spectrogram(y, sr=sr, config=config)[0].astype(np.float32)
    top = float(db.max())
    fig, ax = new_figure(width=3.0, height=1.1)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=top - TOP_DB, vmax=top)
    ax.set_axis_off()
    return figure_png(fig, dpi=80)


def write_excerpt(path: Path, *, key: str, out: Path, seconds: float = EXCERPT_S) -> Excerpt:
    """Decode ``path`` and write its excerpt (``out/audio/<name>.ogg``) and picture
    (``out/mel/<name>.png``); an empty :class:`Excerpt` for a clip that does not decode."""
    import soundfile as sf

    clip = decode(path, config=DecodeConfig(sr=EXCERPT_SR, mono=True, min_duration=0.0))
    if clip.y is None or clip.y.size == 0:
        return Excerpt()
    y = middle(np.asarray(clip.y, dtype=np.float32), sr=clip.sr, seconds=seconds)
    name = safe_name(key)
    audio = f"{AUDIO_DIR}/{name}.ogg"
    picture = f"{MEL_DIR}/{name}.png"
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(y, -1.0, 1.0), clip.sr, format="OGG", subtype="VORBIS")
    write_bytes_atomic(out / audio, buffer.getvalue())
    write_bytes_atomic(out / picture, mel_picture(y, sr=clip.sr))
    return Excerpt(audio=audio, picture=picture, seconds=round(len(y) / clip.sr, 3))
