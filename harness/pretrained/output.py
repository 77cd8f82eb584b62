"""What ``embed`` and ``tag`` write: an .npz of every layer, a CSV of every tag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import ParameterError
from harness.pretrained.files import FileEmbedding
from harness.pretrained.sources import get_source, source_tags
from harness.storage import atomic_target


def check_out(out: Path, *, suffix: str) -> None:
    """``--out`` ends in ``suffix`` and its folder exists (one line otherwise)."""
    if out.suffix.lower() != suffix:
        raise ParameterError(f"--out {out}: expected a {suffix} file name")
    if not out.parent.is_dir():
        raise ParameterError(f"--out {out}: the folder {out.parent} does not exist; create it")


def check_top_k(top_k: int) -> None:
    """``--top-k`` is at least 1."""
    if top_k < 1:
        raise ParameterError(f"--top-k {top_k}: expected 1 or more tags per file")


def check_taggable(source_name: str) -> None:
    """``source_name`` has tags (an ``hf:`` source has none: one line saying so)."""
    if not source_tags(get_source(source_name)):
        raise ParameterError(
            f"--model {source_name}: it has no tags; tag with musicnn-msd, musicnn-mtt, vgg-msd "
            "or vgg-mtt (fma-harness embed works with any source)"
        )


def write_embeddings(out: Path, results: list[FileEmbedding]) -> None:
    """The .npz described in ``fma-harness embed --help`` (written atomically)."""
    layers = next((list(r.layers) for r in results if r.layers), [])
    widths = {
        layer: next(r.layers[layer].shape[1] for r in results if r.layers) for layer in layers
    }
    arrays: dict[str, np.ndarray] = {
        "paths": np.array([str(r.path) for r in results]),
        "duration": np.array([r.duration for r in results], dtype=np.float64),
        "error": np.array([r.error for r in results]),
        "patch_file": np.concatenate(
            [
                np.full(len(next(iter(r.layers.values()))), i)
                for i, r in enumerate(results)
                if r.layers
            ]
            or [np.zeros(0, np.int64)]
        ).astype(np.int64),
    }
    for layer in layers:
        nan = np.full(widths[layer], np.nan, np.float32)
        arrays[layer] = np.concatenate([r.layers[layer] for r in results if r.layers])
        arrays[f"{layer}_mean"] = np.stack(
            [r.layers[layer].mean(axis=0) if r.layers else nan for r in results]
        )
        arrays[f"{layer}_max"] = np.stack(
            [r.layers[layer].max(axis=0) if r.layers else nan for r in results]
        )
    with atomic_target(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def tag_rows(results: list[FileEmbedding], source_name: str) -> list[dict]:
    """Per file: path, error and tag -> mean probability over its patches."""
    names = source_tags(get_source(source_name))
    rows = []
    for r in results:
        tags = {}
        if r.layers:
            mean = r.layers["taggram"].mean(axis=0)
            tags = {name: float(p) for name, p in zip(names, mean, strict=True)}
        rows.append({"path": str(r.path), "error": r.error, "tags": tags})
    return rows


def write_tag_csv(out: Path, rows: list[dict]) -> None:
    """One row per file: path, error, then one column per tag (empty for a failed file)."""
    table = pd.DataFrame([{"path": r["path"], "error": r["error"], **r["tags"]} for r in rows])
    with atomic_target(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
