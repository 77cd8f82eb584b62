"""Which decoded length counts as ``short`` on a dataset that is not FMA.

FMA's clips are 30 s, so a clip under 29 s is a truncated one. A folder per label or a manifest
can hold clips of any length (GTZAN's are 30 s, a user's may be 10 s): judging them by FMA's
29 s would call every clip of a 10 s collection ``short``. Their threshold is taken from the
collection itself: 90% of its typical clip length (the manifest's ``duration`` column when it has
one, else the median length read from the file headers of a seeded sample of clips), never above
FMA's 29 s. A clip shorter than nine tenths of its peers is then the odd one out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

SHORT_FRACTION = 0.9  # a clip under this fraction of the typical length is 'short'
HEADER_SAMPLE = 200  # clips whose headers are read (seeded sample): enough for a median
FMA_MIN_DURATION = 29.0


def typical_duration(paths: Sequence[Path | str], *, seed: int = 0) -> float | None:
    """Median length (s) of the readable clips among a seeded sample of ``paths``.

    Reads file headers only (``soundfile.info``); an unreadable file is skipped (the decode
    check reports it). None when no clip could be read.
    """
    paths = list(paths)
    if len(paths) > HEADER_SAMPLE:
        picked = np.random.default_rng(seed).choice(len(paths), HEADER_SAMPLE, replace=False)
        paths = [paths[i] for i in np.sort(picked)]
    lengths = []
    for path in paths:
        try:
            lengths.append(float(sf.info(str(path)).duration))
        except (sf.LibsndfileError, RuntimeError, OSError):
            continue
    return float(np.median(lengths)) if lengths else None


def short_threshold(stated: Sequence[float] | None, paths: Sequence[Path | str]) -> float:
    """``min_duration`` (s) for a collection: 90% of its typical length, at most 29 s.

    Parameters
    ----------
    stated : sequence of float or None
        The manifest's ``duration`` column (s), used when it has values.
    paths : sequence of paths
        The collection's audio files, whose headers are read otherwise.
    """
    values = np.asarray([] if stated is None else stated, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    typical = float(np.median(values)) if len(values) else typical_duration(paths)
    if typical is None:
        return FMA_MIN_DURATION
    return round(min(FMA_MIN_DURATION, SHORT_FRACTION * typical), 1)
