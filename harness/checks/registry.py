"""The one registry of checks that ``fma-harness check``, ``run`` and ``report`` iterate.

Each check is registered by name with a lazy ``"module:attr"`` target (importing this module
imports no check module) and a stage:

- ``"data"``: ``check(inputs)`` with one :class:`DataInputs` (tracks, splits, decode status,
  hashes, fingerprints, feature table, ...) returns a list of
  :class:`~harness.checks.base.CheckResult`. ``fma-harness check`` and ``fma-harness run`` run
  this stage and store its results in ``checks.json``.
- ``"run"``: ``check(run_dir)`` with a run directory (:class:`pathlib.Path`) returns a list of
  CheckResult or one CheckResult. The run report (``fma-harness run`` and ``fma-harness
  report``) runs this stage after loading ``checks.json``.

The built-in families come first, in report order (:data:`BUILTIN_CHECKS`); each family's
module names its check ``from_inputs`` (data) or ``from_run`` (run). Users add their own
checks without editing the harness, as Python entry points of the group ``fma_harness.checks``
in their package: the entry point's name is the check's name and its value the callable's
``"module:attr"``. A plain callable is a ``"run"`` check; a callable with an attribute
``stage = "data"`` is a ``"data"`` check. A user's check that cannot be loaded, raises or
returns something else than CheckResults is reported as a FAIL naming the check and the error;
the report goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from harness.checks.base import VERDICTS, CheckResult
from harness.errors import ParameterError
from harness.registry import entry_point_targets, load_target
from harness.registry import refresh_entry_points as refresh_registry_entry_points

DATA = "data"  # called with DataInputs, before any model is trained
RUN = "run"  # called with a run directory, when its report is assembled
STAGES = (DATA, RUN)
CHECKS_ENTRY_POINT_GROUP = "fma_harness.checks"
USER_FAMILY = "user checks"  # family of the FAIL result standing for a broken user check

T = TypeVar("T")


@dataclass(frozen=True)
class DataInputs:
    """What a ``"data"`` check is called with: plain tables of one dataset.

    Attributes
    ----------
    tracks : pd.DataFrame
        tracks.csv rows of the subset (index track_id, 2-level columns).
    splits : pd.Series
        track_id -> training / validation / test.
    status : pd.DataFrame
        Decode status table, index key (track_id, or file_id for challenge clips).
    groups : pd.Series
        key -> group (split name or ``challenge``) for every key of ``status``; ``splits``
        when not given.
    hashes : pd.Series or None
        key -> SHA-1 of the file (:func:`harness.checks.data.duplicates.file_hashes`).
    prints : pd.DataFrame or None
        key -> audio fingerprint (:func:`harness.checks.runner.clip_descriptors`).
    shifted : pd.DataFrame or None
        Pairs of clips holding the same excerpt up to a 2 s shift (key_a, key_b, similarity,
        shift; :func:`harness.data.fingerprints.matching_pairs`).
    feature_table : pd.DataFrame or None
        MFCC-140 table indexed by track_id.
    rhythm : pd.DataFrame or None
        Rhythm descriptors (:func:`harness.checks.data.rhythm.rhythm_descriptor`) by track_id.
    pretrained : pd.DataFrame or None
        Pretrained embeddings by track_id (columns (source, representation, feature)), when
        the run computed them: the mislabel detector then reads them instead of MFCC + rhythm.
    genres : pd.DataFrame or None
        Genre tree (None: the packaged genres.csv).
    target_sr : int
        Sample rate the clips are decoded at.
    seed : int
        Seed of the randomised checks (the mislabel detector's folds).
    """

    tracks: pd.DataFrame
    splits: pd.Series
    status: pd.DataFrame
    groups: pd.Series | None = None
    hashes: pd.Series | None = None
    prints: pd.DataFrame | None = None
    feature_table: pd.DataFrame | None = None
    rhythm: pd.DataFrame | None = None
    pretrained: pd.DataFrame | None = None
    genres: pd.DataFrame | None = None
    target_sr: int = 22050
    seed: int = 0
    shifted: pd.DataFrame | None = None
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.groups is None:
            object.__setattr__(self, "groups", self.splits)

    def shared(self, name: str, compute: Callable[[], T]) -> T:
        """A value derived from the inputs, computed once and shared by the checks needing it.

        Parameters
        ----------
        name : str
            Key of the value (e.g. ``"duplicate_pairs"``).
        compute : callable
            Computes the value on first use.
        """
        if name not in self._shared:
            self._shared[name] = compute()
        return self._shared[name]


@dataclass(frozen=True)
class CheckEntry:
    """One registered check.

    Attributes
    ----------
    name : str
        The check's name (a built-in family, or the user's entry point name).
    target : str
        ``"module:attr"`` of the callable.
    stage : str
        ``"data"`` or ``"run"``.
    builtin : bool
        False for a check registered through an entry point.
    problem : str
        Why a user's check cannot run (it is then reported as a FAIL); empty when it can.
    """

    name: str
    target: str
    stage: str
    builtin: bool = True
    problem: str = ""


BUILTIN_CHECKS: tuple[CheckEntry, ...] = (
    CheckEntry("audio", "harness.checks.data.audio:from_inputs", DATA),
    CheckEntry("duplicates", "harness.checks.data.duplicates:from_inputs", DATA),
    CheckEntry("leakage", "harness.checks.data.leakage:from_inputs", DATA),
    CheckEntry("labels", "harness.checks.data.labels:from_inputs", DATA),
    CheckEntry("mislabels", "harness.checks.data.mislabels:from_inputs", DATA),
    CheckEntry("features", "harness.checks.data.features:from_inputs", DATA),
    CheckEntry("failures", "harness.checks.runs.failures:from_run", RUN),
    CheckEntry("model_sanity", "harness.checks.runs.model_sanity:from_run", RUN),
    CheckEntry("results", "harness.checks.runs.results:from_run", RUN),
    CheckEntry("seeds", "harness.checks.runs.seeds:from_run", RUN),
    CheckEntry("tagging", "harness.checks.runs.tagging:from_run", RUN),
    CheckEntry("artist_errors", "harness.checks.runs.artists:from_run", RUN),
    CheckEntry("style_map", "harness.checks.runs.style_map:from_run", RUN),
    CheckEntry("embedding_duplicates", "harness.checks.runs.embedding_duplicates:from_run", RUN),
    CheckEntry("robustness", "harness.checks.runs.robustness:from_run", RUN),
    CheckEntry("preparation", "harness.checks.runs.preparation:from_run", RUN),
    CheckEntry("stage_times", "harness.checks.runs.timing:from_run", RUN),
)


def refresh_entry_points() -> None:
    """Forget the entry points read so far (after installing a package in a live session)."""
    refresh_registry_entry_points()


def user_entry(name: str, target: str) -> CheckEntry:
    """The entry of a user's check; imports its target to read its ``stage``.

    A target that cannot be imported, is not callable or declares an unknown stage gives a
    ``"run"`` entry with its ``problem`` set, reported as a FAIL when that stage runs.
    """
    if name in {entry.name for entry in BUILTIN_CHECKS}:
        problem = "reuses the name of a built-in check; rename its entry point"
        return CheckEntry(name, target, RUN, builtin=False, problem=problem)
    try:
        check = load_target(target)
    except Exception as exc:  # a user's module: any error it raises on import
        problem = f"cannot be loaded: {_describe(exc)}"
        return CheckEntry(name, target, RUN, builtin=False, problem=problem)
    stage = getattr(check, "stage", RUN)
    problem = "" if callable(check) else "is not callable"
    if stage not in STAGES:
        problem = f"declares stage = {stage!r}; expected one of {', '.join(STAGES)}"
    return CheckEntry(name, target, stage if not problem else RUN, builtin=False, problem=problem)


def check_entries(stage: str | None = None) -> list[CheckEntry]:
    """Every registered check in run order: the built-ins, then the entry points.

    Parameters
    ----------
    stage : str, optional
        Only the checks of this stage (``"data"`` or ``"run"``).
    """
    if stage is not None and stage not in STAGES:
        raise ParameterError(f"unknown check stage {stage!r}; expected one of {', '.join(STAGES)}")
    entries = list(BUILTIN_CHECKS)
    entries += [
        user_entry(name, target)
        for name, target in entry_point_targets(CHECKS_ENTRY_POINT_GROUP).items()
    ]
    return [entry for entry in entries if stage is None or entry.stage == stage]


def unusable_user_checks() -> list[CheckResult]:
    """The FAIL of every user's check that cannot run at all (not loadable, not callable, an
    unknown stage or a built-in's name), whatever its stage."""
    return [failed_result(entry, entry.problem) for entry in check_entries() if entry.problem]


def run_checks(stage: str, argument: Any, *, n_jobs: int = 1) -> list[CheckResult]:
    """Run every check of ``stage`` in registry order and concatenate their results.

    Parameters
    ----------
    stage : str
        ``"data"`` (``argument`` is a :class:`DataInputs`) or ``"run"`` (a run directory).
    n_jobs : int
        Processes for the built-in checks (joblib's convention: -1 every core). A built-in
        check with a ``parts`` attribute (a tuple of callables of the same argument whose
        results, concatenated, are the check's) runs them as separate tasks. Users' checks
        always run in this process, whose ``sys.path`` their packages may rely on. The
        results are those of ``n_jobs=1``, and the parts' warnings are raised again here.
    """
    entries = check_entries(stage)
    done = _builtins_side_by_side(entries, argument, n_jobs=n_jobs)
    per_entry = [
        done[i] if i in done else run_entry(entry, argument) for i, entry in enumerate(entries)
    ]
    builtin_keys = {
        r.key for entry, rs in zip(entries, per_entry, strict=True) if entry.builtin for r in rs
    }
    results: list[CheckResult] = []
    for entry, returned in zip(entries, per_entry, strict=True):
        clash = [r.key for r in returned if r.key in builtin_keys]
        if not entry.builtin and clash:  # a key is a report's anchor: two would share one
            problem = (
                f"returned {clash[0]}, a built-in check's result; give its results a "
                "family or name of their own"
            )
            returned = [failed_result(entry, problem)]
        results += returned
    return results


def _builtins_side_by_side(
    entries: list[CheckEntry], argument: Any, *, n_jobs: int
) -> dict[int, list[CheckResult]]:
    """The results of the built-in ``entries``, by position, their parts run in ``n_jobs``
    processes; empty when that would be one process (the caller runs them then)."""
    from joblib import Parallel, delayed, effective_n_jobs

    if effective_n_jobs(n_jobs) < 2:
        return {}
    tasks = [
        (i, part) for i, entry in enumerate(entries) if entry.builtin for part in _parts(entry)
    ]
    if len(tasks) < 2:
        return {}

    per_task = Parallel(n_jobs=n_jobs, batch_size=1)(
        delayed(_run_part)(part, argument) for _, part in tasks
    )
    done: dict[int, list[CheckResult]] = {}
    for (i, _), (returned, caught) in zip(tasks, per_task, strict=True):
        for category, text in caught:  # where the check ran in this process it warned here
            warnings.warn(text, category, stacklevel=1)
        done.setdefault(i, []).extend(_as_results(entries[i], returned))
    return done


def _parts(entry: CheckEntry) -> tuple[Callable[[Any], Any], ...]:
    check = load_target(entry.target)
    return tuple(getattr(check, "parts", (check,)))


def _run_part(
    part: Callable[[Any], Any], argument: Any
) -> tuple[Any, list[tuple[type[Warning], str]]]:
    """One built-in check's part in a worker process: what it returns, and the warnings it
    raised, each (category, text) once, for the caller to raise again so that its own filters
    apply to them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        returned = part(argument)
    return returned, list(dict.fromkeys((w.category, str(w.message)) for w in caught))


def run_entry(entry: CheckEntry, argument: Any) -> list[CheckResult]:
    """Run one check. A built-in's error propagates; a user check's becomes a FAIL result."""
    if entry.builtin:
        return _as_results(entry, load_target(entry.target)(argument))
    if entry.problem:
        return [failed_result(entry, entry.problem)]
    try:
        return _as_results(entry, load_target(entry.target)(argument))
    except Exception as exc:  # a user's check: any error becomes its FAIL result
        return [failed_result(entry, f"raised {_describe(exc)}")]


def _as_results(entry: CheckEntry, returned: Any) -> list[CheckResult]:
    if isinstance(returned, CheckResult):
        returned = [returned]
    if not isinstance(returned, (list, tuple)) or not all(
        isinstance(r, CheckResult) for r in returned
    ):
        raise TypeError(
            f"returned {type(returned).__name__}; a check returns a CheckResult or a list of them"
        )
    for result in returned:  # a CheckResult's fields can be changed after it was made
        if result.verdict not in VERDICTS:
            raise ValueError(
                f"returned {result.key} with the verdict {result.verdict!r}, not "
                f"one of {', '.join(VERDICTS)}"
            )
        if not all(isinstance(png, bytes) for png in result.figures):
            kinds = sorted({type(png).__name__ for png in result.figures})
            raise TypeError(
                f"returned {result.key} with figures of type {', '.join(kinds)}; "
                "a figure is PNG bytes (harness.checks.base.figure_png makes them "
                "of a matplotlib figure)"
            )
    return list(returned)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def failed_result(entry: CheckEntry, problem: str) -> CheckResult:
    """The FAIL result standing for a user's check that could not give its results."""
    return CheckResult(
        USER_FAMILY,
        entry.name,
        "FAIL",
        f"check {entry.name} ({entry.target}) {problem}",
        action=f"fix or uninstall the package that registers {entry.name} "
        f"(entry point group {CHECKS_ENTRY_POINT_GROUP})",
    )
