"""Every option of a run, read from the command line or a ``run.toml``, and checked before any
work starts."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config.model_settings import (
    check_device,
    check_neural_settings,
    check_settings,
)
from harness.data.challenge import ids_from_test_dir
from harness.data.formats import detect_format
from harness.data.layout import (
    DEFAULT_CACHE_DIR,
    DEFAULT_RUNS_DIR,
    DEFAULT_SUBMISSIONS_DIR,
    FmaLayout,
)
from harness.data.prepared import default_test_dir, holds_clips
from harness.errors import HarnessError, ParameterError
from harness.registry import ModelEntry, get_entry, names
from harness.scoring.submission.score import read_answers

FEATURE_SOURCES = ("audio", "official")
PRESETS = ("quick", "fast", "full")  # training schedules; see RunConfig.preset
SEED_LIMIT = 2**32  # numpy and torch take seeds 0 <= seed < 2**32


@dataclass
class RunConfig:
    """Every option of a run; the CLI and a ``--config run.toml`` file fill it."""

    root: Path | None = None  # None: the synthetic set at DEFAULT_SYNTH_ROOT, generated if absent
    format: str | None = None  # fma | folders | manifest; None: detected from the root
    subset: str = "small"
    task: str = "genre_top"
    # genres_all: drop genres with fewer training tracks (harness.data.prepared's default, 5)
    min_genre_count: int = 5
    # a decoded clip shorter than this (s) is 'short'; None: FMA's 29 s, a synthetic set's own
    # minimum, or 90% of an own collection's typical clip length (harness.data.clip_lengths)
    min_duration: float | None = None
    models: list[str] = field(default_factory=lambda: names())
    test_dir: Path | None = None  # None: the root's crowdai_fma_test/ when it exists
    # answer key (file_id,genre) of the test folder; None: the root's crowdai_fma_test_answers.csv
    # for the root's own crowdai_fma_test/, else submissions are validated, not scored
    answers: Path | None = None
    seed: int = 0
    # training seeds, the main one first: every model trained once per seed on the same data
    # (harness.run.seeds); None: train with seed alone
    seeds: list[int] | None = None
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
    quick: bool = False  # a smoke run: 2 epochs per neural model (the same as preset = "quick")
    # the neural training schedule: "fast" (the default, sized for a demo on a laptop), "full"
    # (each model's thorough schedule, for real comparisons) or "quick" (a smoke run)
    preset: str = "fast"
    checks: bool = True
    # every clip's embedding per neural model and for MFCC-140, their t-SNE map and the
    # near-duplicate pairs (harness.run.embeddings); --no-style-map skips them
    style_map: bool = True
    # re-score every model on the test clips under audio changes (harness.run.robustness)
    robustness: bool = False
    run_id: str | None = None
    # per-model estimator settings, e.g. {"crnn": {"epochs": 30}} ([params.crnn] in run.toml)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    ddp: bool = False  # neural models with DistributedDataParallel, under torchrun

    @property
    def training_preset(self) -> str:
        """The preset the models train with: "quick" when ``quick`` is set, else ``preset``."""
        return "quick" if self.quick else self.preset

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
    for key, value in raw.items():
        expected = FILE_TYPES.get(key)
        if expected is not None and not _is_a(value, expected[0]):
            raise ParameterError(f"{path}: {key} = {value!r}: expected {expected[1]}")
    path_fields = {"root", "test_dir", "answers", "out", "submissions_dir", "cache_dir"}
    return {k: (Path(v) if k in path_fields and v is not None else v) for k, v in raw.items()}


# run.toml keys whose type alone is checked here (their values are checked by check_config)
FILE_TYPES = {
    **{
        key: ("path", "a path (a string)")
        for key in ("root", "test_dir", "answers", "out", "submissions_dir", "cache_dir")
    },
    **{
        key: (bool, "true or false (without quotes)")
        for key in ("resplit", "quick", "checks", "style_map", "robustness", "ddp")
    },
    **{
        key: (str, "a string")
        for key in (
            "format",
            "subset",
            "task",
            "device",
            "preset",
            "scheduler",
            "features",
            "run_id",
        )
    },
    "models": ("names", 'a list of model names, e.g. models = ["mfcc-logreg", "cnn"]'),
    "params": ("tables", "a table per model, e.g. [params.cnn] then epochs = 20"),
}


def _is_a(value: Any, kind: Any) -> bool:
    if kind == "path":
        return isinstance(value, str)
    if kind == "names":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "tables":
        return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
    return isinstance(value, kind)


def check_config(config: RunConfig) -> None:
    """Refuse an inconsistent configuration before any work is done.

    Each problem is one :class:`ParameterError` line naming the option, the value, what was
    expected and what to do: the seed, the models and every key of their ``[params.NAME]``,
    the feature source, the dataset root, the test folder and its answer key, the output
    folders and the device. Nothing is generated, decoded, trained or written before this.
    """
    check_seed(config.seed)
    check_seeds(config.seeds, ddp=config.ddp, seed=config.seed)
    check_min_duration(config.min_duration)
    check_n_jobs(config.n_jobs)
    check_run_id(config)
    if config.preset not in PRESETS:
        raise ParameterError(
            f"preset '{config.preset}' is not one of {', '.join(PRESETS)} "
            "(--quick for a smoke run, --full for the thorough schedule)"
        )
    check_models(config.models)
    if not isinstance(config.style_map, bool):
        raise ParameterError(
            f"style_map {config.style_map!r}: expected true or false (run.toml: "
            "style_map = false, or --no-style-map on the command line)"
        )
    if not isinstance(config.robustness, bool):
        raise ParameterError(
            f"robustness {config.robustness!r}: expected true or false (run.toml: "
            "robustness = true, or --robustness on the command line)"
        )
    if not isinstance(config.params, dict):
        raise ParameterError(
            f"params {config.params!r}: expected a table per model, e.g. "
            "[params.cnn] then epochs = 20"
        )
    for name, params in config.params.items():
        model_entry(f"[params.{name}]", name)
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
    check_folders(config)
    check_answers(config)
    check_device(config.device)
    for name, params in config.params.items():
        check_settings(name, params)
        if get_entry(name).is_neural:
            check_neural_settings(name, params, preset=config.training_preset)


def model_entry(option: str, name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name fails naming the option it came from."""
    try:
        return get_entry(name)
    except ParameterError as exc:
        raise ParameterError(f"{option}: {exc}") from None


def check_seed(seed: Any) -> None:
    """A seed is a whole number with 0 <= seed < 2**32 (what numpy and torch accept)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ParameterError(
            f"--seed {seed!r}: expected a whole number from 0 to {SEED_LIMIT - 1} "
            "(numpy and torch seeds); pass e.g. --seed 0"
        )


def check_seeds(seeds: Any, *, ddp: bool = False, seed: int = 0) -> None:
    """``--seeds``: None, or a non-empty list of distinct seeds (each as ``--seed``); with
    ``--ddp`` only ``[seed]`` (a DDP run trains one seed)."""
    if seeds is None:
        return
    example = "pass e.g. --seeds 0,1,2 (run.toml: seeds = [0, 1, 2])"
    if isinstance(seeds, str) or not isinstance(seeds, (list, tuple)):
        raise ParameterError(f"--seeds {seeds!r}: expected a list of whole numbers; {example}")
    if not seeds:
        raise ParameterError(
            f"--seeds is empty: list at least one training seed ({example}), or leave --seeds "
            "out to train with --seed"
        )
    shown = ",".join(str(s) for s in seeds)
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
            raise ParameterError(
                f"--seeds {shown}: {value!r} is not a whole number from 0 to {SEED_LIMIT - 1}; "
                f"{example}"
            )
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ParameterError(
            f"--seeds {shown}: lists {', '.join(map(str, repeated))} more than once; "
            "name each seed once"
        )
    if ddp and list(seeds) != [seed]:
        raise ParameterError(
            f"--seeds {shown} with --ddp: a DDP run trains one seed; launch torchrun once per "
            "seed (--seed N), or leave --ddp out"
        )


def check_min_duration(value: Any) -> None:
    """``--min-duration`` is None or a number of seconds >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ParameterError(
            f"--min-duration {value!r}: expected seconds >= 0 (e.g. --min-duration 9 for a "
            "collection of 10 s clips), or leave it out to take it from the dataset"
        )


def check_run_id(config: RunConfig) -> None:
    """``--run-id`` is a plain folder name, and no earlier run's folder has it: a rerun into it
    would mix that run's models, seeds and report with this one's."""
    run_id = config.run_id
    if run_id is None:
        return
    if not isinstance(run_id, str) or run_id in ("", ".", "..") or Path(run_id).name != run_id:
        raise ParameterError(
            f"--run-id {run_id!r}: expected a plain folder name (no '/' or '..'); the run goes "
            f"to {config.out}/<run-id>"
        )
    folder = Path(config.out) / run_id
    if folder.is_dir() and any(folder.iterdir()):
        raise ParameterError(
            f"--run-id {run_id}: {folder} already holds a run; pass another --run-id, or delete "
            "that folder to run again under this name"
        )


def check_n_jobs(value: Any) -> None:
    """``n_jobs`` (run.toml or ``--n-jobs``) is a whole number other than 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        raise ParameterError(
            f"n_jobs {value!r}: expected 1 or more workers, or -1 for every core (-2: all but "
            "one); set it in run.toml or with --n-jobs"
        )


def check_models(models: Any) -> None:
    """At least one model, each known, none twice."""
    if isinstance(models, str) or not isinstance(models, (list, tuple)):
        raise ParameterError(
            f'models {models!r}: expected a list of model names (run.toml: models = ["crnn"])'
        )
    if not models:
        raise ParameterError(
            "--models is empty: name at least one model (e.g. --models mfcc-logreg,crnn), or "
            "leave --models out to train all of them (`fma-harness models` lists them)"
        )
    for name in models:
        model_entry("--models", name)
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise ParameterError(
            f"--models lists {', '.join(repeated)} more than once; name each model once"
        )


def check_folders(config: RunConfig) -> None:
    """The dataset root and the test folder exist; every output folder can be written."""
    check_root(config.root, config.format)
    other_format = config.root is not None and (
        detect_format(Path(config.root), format=config.format) != "fma"
    )
    if config.test_dir is not None and other_format:
        raise ParameterError(
            f"--test-dir {config.test_dir}: a challenge test folder belongs to an FMA root, and "
            f"--root {config.root} is not one; leave --test-dir out (the test split is scored)"
        )
    if config.test_dir is not None and not holds_clips(Path(config.test_dir)):
        what = "holds no .mp3 clips" if Path(config.test_dir).is_dir() else "does not exist"
        raise ParameterError(
            f"--test-dir {config.test_dir}: the folder {what}; expected a challenge test "
            "folder of <file_id>.mp3 clips (such as ROOT/crowdai_fma_test); fix the path or "
            "leave --test-dir out"
        )
    for option, folder in (
        ("--out", config.out),
        ("--cache-dir", config.cache_dir),
        ("submissions_dir", config.submissions_dir),
    ):
        check_writable(option, Path(folder))


def check_root(root: Path | None, format: str | None) -> None:
    """``root`` is a dataset in one of the formats (``format`` when given); None (the
    synthetic set) passes unless ``format`` names another format than FMA."""
    if root is None:
        if format not in (None, "fma"):
            raise ParameterError(
                f"--format {format}: no --root given (the default synthetic set is an FMA "
                "root); pass --root, or leave --format out"
            )
        return
    try:
        found = detect_format(Path(root), format=format)
    except HarnessError as exc:
        why = str(exc).removeprefix(f"{root}: ")
        raise ParameterError(f"--root {root}: {why}") from None
    if found == "fma" and not FmaLayout(Path(root)).tracks_csv.is_file():
        raise ParameterError(
            f"--root {root}: no fma_metadata/tracks.csv there; expected an FMA root "
            "(unzip fma_metadata.zip into it, or `fma-harness data synth --root DIR`), or "
            "leave --root out for the synthetic set"
        )


def check_writable(option: str, folder: Path) -> None:
    """``folder`` exists as a writable folder, or can be created (nothing is created here)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(
            f"{option} {folder}: {existing} is a file, not a folder; expected a folder to "
            "write into; choose another path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(
            f"{option} {folder}: {existing} is not writable; expected a folder this user can "
            "write into; choose another path or fix its permissions"
        )


def check_answers(config: RunConfig) -> None:
    """The answer key can be read and lists exactly the clips of the test folder (when known)."""
    if config.answers is None:
        return
    try:
        answers = read_answers(config.answers)
    except HarnessError as exc:
        raise ParameterError(
            f"--answers {config.answers}: {exc}; expected a CSV file_id,genre"
        ) from None
    test_dir = config.test_dir
    if test_dir is None and config.root is not None:
        test_dir = default_test_dir(Path(config.root))
    if test_dir is None:
        return
    clips = set(ids_from_test_dir(test_dir))
    missing, extra = len(clips - set(answers)), len(set(answers) - clips)
    if missing or extra:
        raise ParameterError(
            f"--answers {config.answers}: does not match the {len(clips)} clips of {test_dir} "
            f"({missing} clips without an answer, {extra} answers without a clip); expected "
            "the answer key of that folder: pass the right --answers or --test-dir"
        )
