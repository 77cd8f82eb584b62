"""Every option of a run, read from the command line or a ``run.toml``, and checked before any
work starts."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.layout import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR, DEFAULT_SUBMISSIONS_DIR
from harness.errors import ParameterError
from harness.registry import get_entry, names

FEATURE_SOURCES = ("audio", "official")


@dataclass
class RunConfig:
    """Every option of a run; the CLI and a ``--config run.toml`` file fill it."""

    root: Path | None = None  # None: the synthetic set at DEFAULT_SYNTH_ROOT, generated if absent
    subset: str = "small"
    task: str = "genre_top"
    models: list[str] = field(default_factory=lambda: names())
    test_dir: Path | None = None  # None: the root's crowdai_fma_test/ when it exists
    seed: int = 0
    out: Path = DEFAULT_RUNS_DIR
    submissions_dir: Path = DEFAULT_SUBMISSIONS_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    features: str = (
        "audio"  # "audio": extract from the clips; "official": fma_metadata/features.csv
    )
    scheduler: str | None = None
    n_jobs: int = -1
    resplit: bool = False
    device: str = "auto"
    quick: bool = False
    checks: bool = True
    run_id: str | None = None
    # per-model estimator settings, e.g. {"crnn": {"epochs": 30}} ([params.crnn] in run.toml)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    ddp: bool = False  # neural models with DistributedDataParallel, under torchrun

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a ``run.toml`` into RunConfig keyword arguments (unknown keys are an error)."""
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML ({exc})") from exc
    known = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ParameterError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    path_fields = {"root", "test_dir", "out", "submissions_dir", "cache_dir"}
    return {k: (Path(v) if k in path_fields and v is not None else v) for k, v in raw.items()}


def check_config(config: RunConfig) -> None:
    """Refuse an inconsistent configuration before any work is done."""
    for name in config.models:
        get_entry(name)  # unknown names fail before any work
    for name, params in config.params.items():
        get_entry(name)
        if not isinstance(params, dict):
            raise ParameterError(
                f"params.{name} must be a table of settings (e.g. [params.{name}] epochs = 20), "
                f"got {params!r}"
            )
    if config.features not in FEATURE_SOURCES:
        raise ParameterError(f"features '{config.features}' is not one of {FEATURE_SOURCES}")
    neural = [m for m in config.models if get_entry(m).is_neural]
    if config.features == "official" and neural:
        raise ParameterError(
            "neural models need audio (log-mel); drop them from --models or use --features audio"
        )
    if config.ddp and len(neural) != len(config.models):
        baselines = sorted(set(config.models) - set(neural))
        raise ParameterError(
            f"--ddp trains neural models only; drop {', '.join(baselines)} from --models"
        )
