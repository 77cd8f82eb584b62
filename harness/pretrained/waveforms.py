"""The clips of a run group as waveforms, for an ``hf:`` source (:mod:`harness.pretrained.hf`).

The feature stage caches spectrograms, not samples (a 30 s clip at 16 kHz is 1 MB as float16,
about 24 GB for fma_medium), so a Hugging Face embedder's input is decoded again here, chunk by
chunk as the embedding cache asks for it, at the embedder's rate.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from harness.features.extracted import FAILED_STATUSES


class WaveformRows:
    """The waveforms of a group's clips, decoded on access: ``rows[a:b]`` is float32
    (b - a, samples) at ``sr``, cut or zero-padded to ``duration`` seconds, NaN for a clip
    that failed to decode (in the feature stage, or now).

    Parameters
    ----------
    clips : pd.DataFrame
        The group's clips: index key, column ``path``; their order is the rows'.
    status : pd.Series or None
        key -> the feature stage's status (None: every clip is decoded).
    sr : int
        Hz.
    duration : float
        Seconds per clip (the run's clip duration).
    """

    def __init__(
        self, clips: pd.DataFrame, status: pd.Series | None, *, sr: int, duration: float
    ) -> None:
        status = status if status is not None else pd.Series(dtype=object)
        self.clips, self.status = clips, status.reindex(clips.index)
        self.sr, self.samples = int(sr), int(round(duration * sr))
        self.index = pd.DataFrame({"row": np.arange(len(clips))}, index=clips.index)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, rows: slice) -> np.ndarray:
        from harness.data.audio import DecodeConfig, decode

        part = self.clips.iloc[rows]
        out = np.full((len(part), self.samples), np.nan, dtype=np.float32)
        config = DecodeConfig(sr=self.sr, min_duration=0.0)
        for i, (key, path) in enumerate(zip(part.index, part["path"], strict=True)):
            if self.status.get(key) in FAILED_STATUSES:
                continue
            y = decode(path, config=config).y
            if y is not None:
                y = np.asarray(y[: self.samples], np.float32)
                out[i] = np.pad(y, (0, self.samples - len(y)))
        return out

    @property
    def input_set(self) -> str:
        """What the rows are, for the embedding cache's key: ``waveform-<sr>-<samples>``."""
        return f"waveform-{self.sr}-{self.samples}"

    def digest(self) -> str:
        """Of the clips' keys, paths and file sizes, in row order."""
        lines = []
        for key, path in zip(self.clips.index, self.clips["path"], strict=True):
            size = Path(path).stat().st_size if Path(path).is_file() else -1
            lines.append(f"{key!r},{path},{size}")
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
