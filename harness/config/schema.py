"""Every option of a run, declared once: :class:`RunConfig` is the schema of the command line,
``run.toml`` and Python alike.

Each field carries, in its annotation, the type and the bounds pydantic checks
(:mod:`harness.config.validation` builds the validator), and, in its metadata, what the user
reads: the option's ``help`` (the CLI shows it), the ``label`` an error names it by, what is
``expected`` of its value, an ``item`` text for one element of a list, and a ``hint`` (what to
do). A value that breaks a rule is one :class:`~harness.errors.ParameterError` line built from
these texts; a rule whose line says more (an empty or repeated list, a combination of options)
raises its own ParameterError here.

The annotations name no pydantic class: bounds are :mod:`annotated_types` (which pydantic reads)
and :class:`After` / :class:`Before` build pydantic's validators only when one is asked for, so
importing the schema (every command module does, for its options' help) does not import
pydantic.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Lt, Predicate

from harness.data.layout import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR, DEFAULT_SUBMISSIONS_DIR
from harness.errors import ParameterError
from harness.registry import ModelEntry, get_entry, names

FEATURE_SOURCES = ("audio", "official")
PRESETS = ("quick", "fast", "full")  # training schedules; see RunConfig.preset
SEED_LIMIT = 2**32  # numpy and torch take seeds 0 <= seed < 2**32

ROOT_HELP = (
    "Dataset root: FMA (fma_metadata/, fma_<subset>/), a folder per label (GTZAN's genres/), "
    "or a CSV manifest (path,label[,artist,album,split,labels,duration]) or its folder."
)
FORMAT_HELP = "fma | folders | manifest (default: detected from --root)."
SUBSET_HELP = "small | medium | large | full"
CACHE_DIR_HELP = "Feature cache (shared by every command and worker)."
DEVICE_HELP = "auto | cpu | cuda | cuda:N"
TEST_DIR_HELP = "Challenge test folder of <file_id>.mp3."
RESPLIT_HELP = "Ignore set.split; re-split grouped by artist."
SCHEDULER_HELP = "Dask scheduler for features: tcp://host:8786 or 'local'."
MIN_DURATION_HELP = (
    "Shorter clips are 'short' (s); default 29 (FMA), the synthetic set's, or 90% of an own "
    "collection's typical clip length."
)

PATH = "a path (a string)"
STRING = "a string"
BOOL = "true or false (without quotes)"
WHOLE = "a whole number"
SEED_RANGE = f"a whole number from 0 to {SEED_LIMIT - 1}"
SEEDS_EXAMPLE = "pass e.g. --seeds 0,1,2 (run.toml: seeds = [0, 1, 2])"


class After:
    """``Annotated`` metadata: ``check(value)`` runs after the type is checked (pydantic's
    AfterValidator, built only when a validator is)."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


class Before(After):
    """``Annotated`` metadata: ``convert(value)`` runs before the type is checked."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.check, handler(source))


def _path_text(value: Any) -> Any:
    return Path(value) if isinstance(value, str) else value  # Python callers may pass a str


def _tuple_as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _models_rule(models: list[str]) -> list[str]:
    """At least one model, none twice (whether each is known is a preflight check)."""
    if not models:
        raise ParameterError(
            "--models is empty: name at least one model (e.g. --models mfcc-logreg,crnn), or "
            "leave --models out to train all of them (`fma-harness models` lists them)"
        )
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise ParameterError(
            f"--models lists {', '.join(repeated)} more than once; name each model once"
        )
    return models


def _seeds_rule(seeds: list[int]) -> list[int]:
    """At least one training seed, none twice."""
    if not seeds:
        raise ParameterError(
            f"--seeds is empty: list at least one training seed ({SEEDS_EXAMPLE}), or leave "
            "--seeds out to train with --seed"
        )
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ParameterError(
            f"--seeds {','.join(map(str, seeds))}: lists {', '.join(map(str, repeated))} more "
            "than once; name each seed once"
        )
    return seeds


Paths = Annotated[Path, Before(_path_text)]
Seed = Annotated[int, Ge(0), Lt(SEED_LIMIT)]


def option(
    default: Any = dataclasses.MISSING,
    *,
    expected: str,
    help: str = "",
    label: str | None = None,
    hint: str | None = None,
    item: str | None = None,
    factory: Callable[[], Any] | None = None,
    path: bool = False,
) -> Any:
    """A RunConfig field with the texts its help and its errors are made of."""
    about = {"help": help, "label": label, "expected": expected, "hint": hint, "item": item}
    about["path"] = path
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=about)
    return dataclasses.field(default=default, metadata=about)


#: The registry entries each live RunConfig has looked up (:meth:`RunConfig.entry`), by id.
_ENTRIES: dict[int, dict[str, ModelEntry]] = {}


@dataclass
class RunConfig:
    """Every option of a run; the CLI and a ``--config run.toml`` file fill it.

    Building one checks nothing (it is plain data); :func:`harness.config.run_config.
    check_config` checks every field against this schema, then the world (folders, models,
    device) before any work.
    """

    # strict: "3" is not a seed, 1 is not true; every field is checked, not only those set
    __pydantic_config__ = {"strict": True, "revalidate_instances": "always"}

    root: Paths | None = option(
        None,
        help=f"{ROOT_HELP} Default: data/synthetic, made if absent.",
        expected=PATH,
        path=True,
    )  # None: the synthetic set at DEFAULT_SYNTH_ROOT, generated if absent
    format: str | None = option(None, help=FORMAT_HELP, expected=STRING)  # None: detected
    subset: str = option("small", help=SUBSET_HELP, expected=STRING)
    task: str = option("genre_top", help="genre_top (single-label) | genres_all", expected=STRING)
    # genres_all: drop genres with fewer training tracks (harness.data.prepared's default, 5)
    min_genre_count: Annotated[int, Ge(1)] = option(
        5,
        help="genres_all: drop genres with fewer training tracks than this (default 5).",
        label="--min-genre-count",
        expected="a whole number >= 1",
    )
    # a decoded clip shorter than this (s) is 'short'; None: FMA's 29 s, a synthetic set's own
    # minimum, or 90% of an own collection's typical clip length (harness.data.clip_lengths)
    min_duration: Annotated[float, Ge(0)] | None = option(
        None,
        help=MIN_DURATION_HELP,
        label="--min-duration",
        expected="seconds >= 0 (e.g. --min-duration 9 for a collection of 10 s clips), or "
        "leave it out to take it from the dataset",
    )
    models: Annotated[list[str], Before(_tuple_as_list), After(_models_rule)] = option(
        factory=names,
        help="Comma-separated model names or package.module:factory targets (default: all "
        "built-ins; `fma-harness models` lists them).",
        expected='a list of model names (run.toml: models = ["crnn"])',
    )
    test_dir: Paths | None = option(None, help=TEST_DIR_HELP, expected=PATH, path=True)
    # answer key (file_id,genre) of the test folder; None: the root's crowdai_fma_test_answers.csv
    # for the root's own crowdai_fma_test/, else submissions are validated, not scored
    answers: Paths | None = option(
        None,
        help="Answer key (file_id,genre) of the test folder: submissions are scored against it. "
        "Default: the root's crowdai_fma_test_answers.csv for its own crowdai_fma_test/; "
        "otherwise submissions are validated, not scored.",
        expected=PATH,
        path=True,
    )
    label_fixes: Paths | None = option(
        None,
        help="label_fixes.csv (track_id,action,new_label,duplicate_of,...; "
        "a reviewer's decisions): relabel, drop or de-duplicate tracks when the data is "
        "prepared; the dataset's files are not changed.",
        expected=PATH,
        path=True,
    )
    seed: Seed = option(
        0,
        help="Seed for splits, models and bootstrap.",
        label="--seed",
        expected=f"{SEED_RANGE} (numpy and torch seeds)",
        hint="pass e.g. --seed 0",
    )
    # training seeds, the main one first: every model trained once per seed on the same data
    # (harness.run.seeds); None: train with seed alone
    seeds: Annotated[list[Seed], Before(_tuple_as_list), After(_seeds_rule)] | None = option(
        None,
        help="Training seeds, comma-separated (e.g. 0,1,2): every model is trained once per "
        "seed on the same data; leaderboard.csv gets the mean and std over them. The first is "
        "the main seed (bundles, submissions, ensemble); --seed stays the data seed.",
        label="--seeds",
        expected="a list of whole numbers",
        item=SEED_RANGE,
        hint=SEEDS_EXAMPLE,
    )
    out: Paths = option(
        DEFAULT_RUNS_DIR, help="Parent folder of run directories.", expected=PATH, path=True
    )
    submissions_dir: Paths = option(
        DEFAULT_SUBMISSIONS_DIR,
        help="Folder of the challenge submission files.",
        expected=PATH,
        path=True,
    )
    cache_dir: Paths = option(DEFAULT_CACHE_DIR, help=CACHE_DIR_HELP, expected=PATH, path=True)
    # "audio": extract from the clips; "official": fma_metadata/features.csv
    features: Literal[FEATURE_SOURCES] = option(
        "audio",
        help="audio (extract from the clips) | official (fma_metadata/features.csv, no audio)",
        expected=", ".join(FEATURE_SOURCES),
    )
    scheduler: str | None = option(None, help=SCHEDULER_HELP, expected=STRING)
    n_jobs: Annotated[int, Predicate(lambda n: n != 0)] = option(
        -1,
        help="Parallel workers (-1 = all cores): feature extraction, and on a CPU the neural "
        "models side by side (1: one at a time).",
        label="--n-jobs",
        expected="1 or more workers, or -1 for every core (-2: all but one)",
        hint="e.g. -1 (every core) or 1",
    )
    resplit: bool = option(False, help=RESPLIT_HELP, expected=BOOL)
    device: str = option("auto", help=DEVICE_HELP, expected=STRING)
    quick: bool = option(
        False,
        help="Neural training schedule: --quick a smoke run (2 epochs), --full each model's "
        "thorough schedule for real comparisons; neither: the fast default (README: presets).",
        expected=BOOL,
    )  # a smoke run: 2 epochs per neural model (the same as preset = "quick")
    # the neural training schedule: "fast" (the default, sized for a demo on a laptop), "full"
    # (each model's thorough schedule, for real comparisons) or "quick" (a smoke run)
    preset: Literal[PRESETS] = option(
        "fast",
        help="Neural training schedule: fast (the default), full or quick.",
        expected=", ".join(PRESETS),
        hint="--quick for a smoke run, --full for the thorough schedule",
    )
    checks: bool = option(True, help="Run the data checklist first.", expected=BOOL)
    # every clip's embedding per neural model and for MFCC-140, their t-SNE map and the
    # near-duplicate pairs (harness.run.embeddings); --no-style-map skips them
    style_map: bool = option(
        True,
        help="Embed every clip per neural model and MFCC-140, draw their t-SNE style map and "
        "list near-duplicate pairs in the report (default on).",
        expected=BOOL,
        hint="run.toml: style_map = false, or --no-style-map on the command line",
    )
    # re-score every model on the test clips under audio changes (harness.run.robustness)
    robustness: bool = option(
        False,
        help="Re-score every model on the test clips under audio changes (pitch, tempo, noise, "
        "MP3, gain): robustness.csv and a report section (default off; cached).",
        expected=BOOL,
        hint="run.toml: robustness = true, or --robustness on the command line",
    )
    run_id: str | None = option(
        None,
        help="Name of the run directory (default: time + seed).",
        label="--run-id",
        expected=STRING,
    )
    # per-model estimator settings, e.g. {"crnn": {"epochs": 30}} ([params.crnn] in run.toml)
    params: dict[str, dict[str, Any]] = option(
        factory=dict,
        help="Per-model estimator settings ([params.NAME] in run.toml).",
        expected="a table per model, e.g. [params.cnn] then epochs = 20",
    )
    ddp: bool = option(
        False,
        help="Train the neural models with DistributedDataParallel: launch with "
        "torchrun --nproc_per_node N -m harness ...",
        expected=BOOL,
    )  # neural models with DistributedDataParallel, under torchrun

    @property
    def training_preset(self) -> str:
        """The preset the models train with: "quick" when ``quick`` is set, else ``preset``."""
        return "quick" if self.quick else self.preset

    def entry(self, name: str) -> ModelEntry:
        """The registry entry of model ``name``, looked up once per configuration and kept (an
        entry-point or ``module:attr`` model is imported once), so that every stage of a run
        asks the configuration, not the registry."""
        entries = _ENTRIES.get(id(self))
        if entries is None:  # kept beside the instance: its fields stay its settings alone
            entries = _ENTRIES[id(self)] = {}
            weakref.finalize(self, _ENTRIES.pop, id(self), None)
        if name not in entries:
            entries[name] = get_entry(name)
        return entries[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }


def combination_rules(config: RunConfig) -> RunConfig:
    """Rules across fields, checked once each field is valid."""
    run_id = config.run_id
    if run_id is not None and (run_id in ("", ".", "..") or Path(run_id).name != run_id):
        raise ParameterError(
            f"--run-id {run_id!r}: expected a plain folder name (no '/' or '..'); the run goes "
            f"to {config.out}/<run-id>"
        )
    if config.ddp and config.seeds is not None and config.seeds != [config.seed]:
        raise ParameterError(
            f"--seeds {','.join(map(str, config.seeds))} with --ddp: a DDP run trains one seed; "
            "launch torchrun once per seed (--seed N), or leave --ddp out"
        )
    return config


FIELDS = {f.name: f.metadata for f in dataclasses.fields(RunConfig)}
PATH_FIELDS = tuple(name for name, about in FIELDS.items() if about["path"])


def help_of(name: str) -> str:
    """The help text of the RunConfig field ``name`` (what ``--help`` shows for its option)."""
    return FIELDS[name]["help"]
