"""Duplicate checks: identical files, and the same audio under different ids.

Identical files are found by SHA-1 of their bytes. Re-encoded or re-gained copies have other
bytes, so the audio is also compared by a coarse spectral fingerprint in the style of Haitsma &
Kalker (2002): the log-mel spectrogram is pooled to ``n_bands`` bands x blocks of
``block_seconds``, and each bit is the sign of the band-energy difference's change from one
block to the next. Gain cancels in the differences, and an MP3 re-encode or a few ms of encoder
delay barely moves block energies, so copies agree on nearly every bit while unrelated clips
agree on about half. Near-zero differences (silence, padding) give a 0 "no opinion" entry,
and the distance is the fraction of disagreeing bits among those where both clips have an
opinion, so two mostly-silent clips never match on silence alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, id_list, skip
from harness.checks.registry import DataInputs

FAMILY = "duplicates"
N_BANDS = 16
BLOCK_SECONDS = 0.4
# Fraction of disagreeing fingerprint bits at or under which two clips are the same audio.
# Copies measure under ~0.1, unrelated clips ~0.5 (see the module doc).
MAX_DISTANCE = 0.2
# Two fingerprints are compared only when both have an opinion on at least this fraction of the
# entries of the sparser one, and on at least MIN_BITS entries (a 4 s clip has about 130).
MIN_OVERLAP = 0.5
MIN_BITS = 48
DIFF_TOLERANCE_DB = 0.05
FINGERPRINT_STATUSES = ("ok", "short")


def sha1_of(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str | None:
    """Hex SHA-1 of a file's bytes, or None when it does not exist or is empty."""
    try:
        if Path(path).stat().st_size == 0:
            return None
        digest = hashlib.sha1()
        with open(path, "rb") as f:
            while chunk := f.read(chunk_bytes):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def file_hashes(paths: Mapping[Any, str | Path]) -> pd.Series:
    """key -> SHA-1 hex digest (None for a missing or empty file)."""
    return pd.Series({k: sha1_of(p) for k, p in paths.items()}, dtype=object, name="sha1")


def hash_pairs(hashes: pd.Series) -> pd.DataFrame:
    """Pairs of keys with the same file hash: columns key_a, key_b, method, distance."""
    present = hashes.dropna()
    rows = []
    for digest, keys in present.groupby(present, sort=False).groups.items():
        keys = list(keys)
        rows += [
            {"key_a": a, "key_b": b, "method": "sha1", "distance": 0.0, "detail": digest[:12]}
            for i, a in enumerate(keys)
            for b in keys[i + 1 :]
        ]
    return pd.DataFrame(rows, columns=["key_a", "key_b", "method", "distance", "detail"])


def fingerprint(
    S_db: np.ndarray,
    *,
    frame_rate: float,
    n_bands: int = N_BANDS,
    block_seconds: float = BLOCK_SECONDS,
) -> np.ndarray:
    """Ternary fingerprint of a log-mel spectrogram.

    Parameters
    ----------
    S_db : np.ndarray, shape (n_mels, n_frames)
        Log-mel spectrogram in dB.
    frame_rate : float
        Frames per second (``sr / hop_length``).

    Returns
    -------
    np.ndarray of int8, shape ((n_bands - 1) * (n_blocks - 1),)
        +1 / -1 per (band pair, block step), 0 where the difference is below tolerance.
    """
    S = np.asarray(S_db, dtype=np.float32)
    block = max(1, int(round(block_seconds * frame_rate)))
    n_blocks = S.shape[1] // block
    if n_blocks < 2:
        return np.zeros(0, dtype=np.int8)
    bands = np.stack([b.mean(axis=0) for b in np.array_split(S, n_bands, axis=0)])
    energy = bands[:, : n_blocks * block].reshape(n_bands, n_blocks, block).mean(axis=2)
    d = np.diff(np.diff(energy, axis=0), axis=1)
    bits = np.sign(d).astype(np.int8)
    bits[np.abs(d) < DIFF_TOLERANCE_DB] = 0
    return bits.ravel()


def stack_fingerprints(keys: list[Any], prints: list[np.ndarray]) -> pd.DataFrame:
    """Fingerprints of unequal length as one zero-padded int8 table (index key)."""
    width = max((len(p) for p in prints), default=0)
    matrix = np.zeros((len(prints), width), dtype=np.int8)
    for i, p in enumerate(prints):
        matrix[i, : len(p)] = p
    return pd.DataFrame(matrix, index=pd.Index(keys, name="key"))


def fingerprint_pairs(
    prints: pd.DataFrame,
    *,
    max_distance: float = MAX_DISTANCE,
    min_overlap: float = MIN_OVERLAP,
    chunk: int = 1024,
) -> pd.DataFrame:
    """All pairs of fingerprints within ``max_distance`` (fraction of disagreeing bits).

    Parameters
    ----------
    prints : pd.DataFrame
        Index key, shape (n_clips, n_bits), entries in {-1, 0, +1}.

    Returns
    -------
    pd.DataFrame
        Columns key_a, key_b, method ("fingerprint"), distance, detail; sorted by distance.
    """
    A = prints.to_numpy(dtype=np.float32)
    M = np.abs(A)
    nnz = M.sum(axis=1)
    keys = prints.index.to_numpy()
    rows = []
    for start in range(0, len(A), chunk):
        stop = min(start + chunk, len(A))
        both = M[start:stop] @ M.T
        agree = A[start:stop] @ A.T
        need = np.maximum(MIN_BITS, min_overlap * np.minimum.outer(nnz[start:stop], nnz))
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = (both - agree) / (2 * both)
        ii, jj = np.nonzero((both >= need) & (dist <= max_distance))
        ii = ii + start
        keep = jj > ii
        for i, j in zip(ii[keep], jj[keep], strict=True):
            d = float(dist[i - start, j])
            rows.append(
                {
                    "key_a": keys[i],
                    "key_b": keys[j],
                    "method": "fingerprint",
                    "distance": round(d, 4),
                    "detail": f"{int(both[i - start, j])} bits",
                }
            )
    table = pd.DataFrame(rows, columns=["key_a", "key_b", "method", "distance", "detail"])
    return table.sort_values("distance", kind="stable").reset_index(drop=True)


def find_duplicates(
    *,
    hashes: pd.Series | None,
    prints: pd.DataFrame | None,
    shifted: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Union of hash pairs, fingerprint pairs and shifted-excerpt pairs (a pair found by more
    than one is kept once: sha1 first, then the aligned fingerprint).

    ``shifted`` (key_a, key_b, similarity, shift) comes from
    :func:`harness.data.fingerprints.matching_pairs`; its pairs count as ``fingerprint`` pairs
    (``near_identical_audio``), with distance 1 - similarity and the shift in ``detail``.
    """
    frames = []
    if hashes is not None:
        frames.append(hash_pairs(hashes))
    if prints is not None and len(prints):
        frames.append(fingerprint_pairs(prints))
    if shifted is not None and len(shifted):
        frames.append(
            pd.DataFrame(
                {
                    "key_a": shifted["key_a"].to_numpy(),
                    "key_b": shifted["key_b"].to_numpy(),
                    "method": "fingerprint",
                    "distance": (1.0 - shifted["similarity"].astype(float)).round(4).to_numpy(),
                    "detail": [f"shifted {s:+.2f} s" for s in shifted["shift"].astype(float)],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["key_a", "key_b", "method", "distance", "detail"])
    pairs = pd.concat(frames, ignore_index=True)
    canon = [
        tuple(sorted((str(a), str(b)))) for a, b in zip(pairs["key_a"], pairs["key_b"], strict=True)
    ]
    return pairs[~pd.Series(canon).duplicated().to_numpy()].reset_index(drop=True)


def duplicate_checks(*, pairs: pd.DataFrame, splits: pd.Series) -> list[CheckResult]:
    """``identical_files`` and ``near_identical_audio`` results from the pairs found.

    A pair whose clips sit in different splits (or groups, e.g. training and challenge) is a
    FAIL; pairs within one split are a WARN.
    """
    results = []
    specs = (
        ("identical_files", "sha1", "files with identical bytes"),
        ("near_identical_audio", "fingerprint", "clips with the same audio under different ids"),
    )
    for name, method, what in specs:
        sub = pairs[pairs["method"] == method].reset_index(drop=True)
        sub = sub.assign(
            split_a=splits.reindex(sub["key_a"]).to_numpy(),
            split_b=splits.reindex(sub["key_b"]).to_numpy(),
        )
        crossing = (
            sub["split_a"].notna() & sub["split_b"].notna() & (sub["split_a"] != sub["split_b"])
        )
        if sub.empty:
            results.append(CheckResult(FAMILY, name, "PASS", f"no {what}"))
            continue
        ids = id_list(pd.unique(pd.concat([sub["key_a"], sub["key_b"]])), limit=10)
        verdict = "FAIL" if crossing.any() else "WARN"
        results.append(
            CheckResult(
                FAMILY,
                name,
                verdict,
                f"{len(sub)} pairs of {what} ({int(crossing.sum())} across splits): {ids}",
                evidence=sub.assign(across_splits=crossing.to_numpy()),
                action="keep one copy per group of duplicates (a copy across splits leaks test "
                "audio into training); for the challenge, check test clips against training",
            )
        )
    return results


def input_pairs(inputs: DataInputs) -> pd.DataFrame | None:
    """:func:`find_duplicates` of the inputs' hashes and fingerprints, computed once per inputs
    (None when the inputs have neither)."""
    if inputs.hashes is None and inputs.prints is None:
        return None
    return inputs.shared(
        "duplicate_pairs",
        lambda: find_duplicates(hashes=inputs.hashes, prints=inputs.prints, shifted=inputs.shifted),
    )


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The duplicates family as a registered ``"data"`` check (:func:`duplicate_checks`)."""
    pairs = input_pairs(inputs)
    if pairs is None:
        return [skip(FAMILY, "identical_files", "no file hashes or fingerprints")]
    return duplicate_checks(pairs=pairs, splits=inputs.groups)
