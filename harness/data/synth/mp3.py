"""MP3 encoding of the synthetic clips: LAME through lameenc, at a constant bitrate.

The generator spent three quarters of its time in libsndfile's LAME encoder (soundfile's
``format="MP3"``), whose algorithm quality cannot be set. lameenc calls the same LAME library
with its quality chosen, :data:`LAME_QUALITY` 7 ("fast, ok quality"). One 10 s clip of the
default set (22.05 kHz mono), encoded one way after the other: 206 ms through soundfile, 34 ms
at 64 kbps, 38 ms at 96 and 44 ms at 128. The default 400-track set took 25 s to generate
through lameenc at 64 kbps against 46 s through soundfile (``fma-harness data synth
--duration 10``, numba's cache warm).
Decoding is unchanged: soundfile (mpg123) reads every file the harness uses.

The default bitrate, 96 kbps, keeps the duplicate checks' fingerprints as close to the
unencoded audio's as 128 kbps does: two unrelated clips of one genre in the default set had a
log-mel envelope similarity of 0.893 unencoded, 0.894 at 96 and 128 kbps and 0.905 at 64 kbps,
over the 0.9 at which ``near_identical_audio`` calls two clips the same excerpt (0.885 through
soundfile).

The bitrate is constant, so a decoder that estimates a file's length from its size (there is
no Xing/LAME header in a streamed encoding) gets it right. Without that header no decoder
trims LAME's delay either: a clip decodes about 1,300 samples (60 ms at 22.05 kHz) longer than
it was rendered, far inside the generator's whole/short thresholds.
"""

from __future__ import annotations

import numpy as np

LAME_QUALITY = 7  # LAME's -q: 0 best and slowest, 9 worst and fastest
DEFAULT_KBPS = 96
MAX_KBPS, MIN_KBPS = 128, 32  # compression level 0 and (towards) 1


def bitrate_for(compression_level: float | None) -> int:
    """CBR kbps for a compression level in [0, 1) (None: :data:`DEFAULT_KBPS`); LAME rounds
    to the nearest bitrate the sample rate's MPEG version allows."""
    if compression_level is None:
        return DEFAULT_KBPS
    return int(round(MAX_KBPS - float(compression_level) * (MAX_KBPS - MIN_KBPS)))


def encode_mp3(y: np.ndarray, *, sr: int, compression_level: float | None) -> bytes:
    """MP3 bytes of ``y``.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,) or (n, channels)
        Samples in [-1, 1] (clipped there), 1 or 2 channels.
    sr : int
        Sample rate in Hz.
    compression_level : float or None
        In [0, 1): 0 is 128 kbps, towards 1 is 32 kbps; None is 96 kbps (:func:`bitrate_for`).

    Returns
    -------
    bytes
        The MP3 stream; the same input gives the same bytes.
    """
    import lameenc

    channels = 1 if y.ndim == 1 else int(y.shape[1])
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(int(sr))
    encoder.set_out_sample_rate(int(sr))  # LAME would resample to suit a low bitrate
    encoder.set_channels(channels)
    encoder.set_bit_rate(bitrate_for(compression_level))
    encoder.set_quality(LAME_QUALITY)
    pcm = np.round(np.clip(y, -1.0, 1.0) * 32767).astype("<i2")  # interleaved when stereo
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())
