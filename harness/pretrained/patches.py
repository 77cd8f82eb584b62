"""A clip's musicnn spectrogram cut into the patches the network reads.

The original (``musicnn.extractor.batch_data`` with no overlap) cuts non-overlapping patches
of :data:`PATCH_FRAMES` frames from the start and drops the tail shorter than a patch. A clip
shorter than one patch would give none there; here it is repeated until it fills one (the
``repeat-pad`` of the checkpoints' training configuration), so every clip gets an embedding.
"""

from __future__ import annotations

import numpy as np

#: Frames per patch: 3 s at 16 kHz with hop 256 (``librosa.time_to_frames(3) + 1``).
PATCH_FRAMES = 187


def n_patches(n_frames: int, *, patch_frames: int = PATCH_FRAMES) -> int:
    """Patches cut from ``n_frames`` frames (at least one)."""
    return max(1, n_frames // patch_frames)


def cut_patches(spec: np.ndarray, *, patch_frames: int = PATCH_FRAMES) -> np.ndarray:
    """Non-overlapping patches of one spectrogram.

    Parameters
    ----------
    spec : np.ndarray, shape (n_mels, n_frames)
        ``log10(1 + 10000 S)`` values, as :func:`harness.features.musicnn_logmel` stores them.

    Returns
    -------
    np.ndarray, shape (n_patches(n_frames), patch_frames, n_mels), float32
        Time before frequency, as the network reads them.
    """
    frames = np.asarray(spec, dtype=np.float32).T
    if frames.shape[0] < patch_frames:
        repeats = -(-patch_frames // max(1, frames.shape[0]))
        frames = np.tile(frames, (repeats, 1))
    count = n_patches(frames.shape[0], patch_frames=patch_frames)
    return frames[: count * patch_frames].reshape(count, patch_frames, frames.shape[1])
