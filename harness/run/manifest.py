"""Run manifests: everything needed to reproduce or audit a run, written as ``manifest.json``.

A manifest records the command line, the resolved configuration, seeds, the git commit and
whether the work tree was dirty, package versions (with libsndfile's and CUDA's), checksums of
the data files the run read, feature cache keys, the device, and start / end times.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.storage import atomic_target, file_digest

if TYPE_CHECKING:
    import pandas as pd

VERSIONED_PACKAGES = (
    "fma-harness",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "torch",
    "librosa",
    "soundfile",
    "joblib",
    "typer",
    "rich",
    "matplotlib",
    "cleanlab",
    "dask",
    "distributed",
)


def utc_now() -> str:
    """Current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha1_file(path: Path) -> str:
    """SHA-1 hex digest of a file (FMA's checksums use SHA-1)."""
    return file_digest(path, "sha1")


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """The git commit of ``cwd`` (default: this package's checkout) and a dirty flag."""
    cwd = cwd or Path(__file__).resolve().parent.parent

    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that change results, plus libsndfile and CUDA."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import soundfile

        versions["libsndfile"] = soundfile.__libsndfile_version__
    except (ImportError, AttributeError):
        versions["libsndfile"] = None
    if "torch" in sys.modules or versions.get("torch"):
        import torch

        versions["cuda"] = torch.version.cuda
    versions["python"] = platform.python_version()
    return versions


def device_info() -> dict[str, Any]:
    """The compute device: CPU count, whether the CPU has AMX (so "auto" mixed precision trains
    in bfloat16 there, and another CPU gives other last digits), and the GPU's name when torch
    sees one."""
    info: dict[str, Any] = {"platform": platform.platform(), "cpu_count": os.cpu_count()}
    try:
        import torch

        from harness.training.runtime import cpu_has_fast_bfloat16

        info["cpu_amx_bfloat16"] = cpu_has_fast_bfloat16()
        info["cuda_available"] = torch.cuda.is_available()
        if info["cuda_available"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["cuda_available"] = False
    return info


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (without its index) to ``path`` atomically."""
    with atomic_target(path) as tmp:
        frame.to_csv(tmp, index=False)


def build_manifest(
    *,
    config: dict[str, Any],
    seeds: dict[str, int],
    data_checksums: dict[str, str],
    cache_keys: dict[str, str],
    started: str,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest dictionary (JSON-serialisable)."""
    return {
        "argv": list(sys.argv if argv is None else argv),
        "config": config,
        "seeds": seeds,
        "git": git_state(),
        "versions": package_versions(),
        "data_checksums": data_checksums,
        "feature_cache_keys": cache_keys,
        "device": device_info(),
        "started": started,
        "finished": utc_now(),
    }
