"""``fma-harness check``: the data checklist of one dataset, with no model training.

Prepares the dataset, extracts (or reuses) its features, runs the ``"data"`` stage of the check
registry (:func:`harness.checks.runner.run_data_checks`), scores the findings against the
planted faults on a synthetic set and writes ``checks.json``, ``report.md`` and
``report.html``. :func:`review_dataset` adds the review page of those checks
(``fma-harness review --root``, :mod:`harness.review`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from harness import features as feats
from harness.checks.base import CheckResult, save_checks
from harness.checks.registry import unusable_user_checks
from harness.checks.runner import run_data_checks
from harness.checks.truth import load_truth, score_against_truth, truth_result
from harness.data.formats import detect_format, load_dataset
from harness.data.label_fixes import apply_label_fixes
from harness.data.prepared import PreparedData, decode_config_for, default_test_dir
from harness.report.markdown import write_report
from harness.review.build import REVIEW_DIR, ReviewPage, build_review
from harness.run_layout import RunLayout


def prepare_for_checks(
    *,
    root: Path,
    format: str | None = None,
    subset: str = "small",
    resplit: bool = False,
    seed: int = 0,
    label_fixes: Path | None = None,
) -> PreparedData:
    """The dataset the data checks read: ``root`` in its format (FMA with its challenge folder
    when there is one), its label fixes applied."""
    kind = detect_format(Path(root), format=format)
    test_dir = default_test_dir(Path(root)) if kind == "fma" else None
    data = load_dataset(
        root=Path(root), format=kind, subset=subset, resplit=resplit, seed=seed, test_dir=test_dir
    )
    return apply_label_fixes(data, label_fixes) if label_fixes is not None else data


def check_dataset(
    *,
    root: Path,
    subset: str = "small",
    cache_dir: Path,
    out: Path,
    resplit: bool = False,
    seed: int = 0,
    n_jobs: int = -1,
    progress: bool | None = None,
    format: str | None = None,
    min_duration: float | None = None,
    label_fixes: Path | None = None,
    data: PreparedData | None = None,
) -> tuple[list[CheckResult], pd.DataFrame | None]:
    """``fma-harness check``: extract (or reuse) features, run the data checks, write the report.

    Writes ``checks.json``, ``report.md`` and ``report.html`` into ``out``. On a synthetic set
    (a root with ``synthetic_truth.csv``) the findings are also scored against the planted
    faults, and the score is added to the report.

    Parameters
    ----------
    root : Path
        Dataset root: FMA (``fma_metadata/``, ``fma_<subset>/``), a folder per label, or a
        CSV manifest (:mod:`harness.data.formats`).
    subset : str
        small, medium, large or full (FMA only).
    cache_dir : Path
        Feature cache (shared with ``fma-harness run``).
    out : Path
        Report folder.
    resplit : bool
        Ignore set.split and re-split grouped by artist.
    seed : int
        Seed of the re-split and the mislabel detector's folds.
    n_jobs : int
        Parallel workers (-1: all cores).
    progress : bool, optional
        Show extraction progress (None: when stderr is a terminal).
    format : str, optional
        ``fma``, ``folders`` or ``manifest``; None detects it.
    min_duration : float, optional
        Clips shorter than this (s) are ``short``; None: from the dataset
        (:func:`harness.data.prepared.decode_config_for`).
    label_fixes : Path, optional
        A label_fixes.csv applied to the prepared data first
        (:mod:`harness.data.label_fixes`).
    data : PreparedData, optional
        The dataset already prepared by :func:`prepare_for_checks` with these settings (the
        caller goes on using it); None prepares it here.

    Returns
    -------
    results : list of CheckResult
    truth_scores : pd.DataFrame or None
        :func:`harness.checks.truth.score_against_truth` output on a synthetic set.
    """
    if data is None:
        data = prepare_for_checks(
            root=root,
            format=format,
            subset=subset,
            resplit=resplit,
            seed=seed,
            label_fixes=label_fixes,
        )
    kind = detect_format(Path(root), format=format)
    decode = decode_config_for(data.layout.root, min_duration=min_duration, data=data)
    logmel = feats.logmel_for_clips(decode.min_duration)
    status = feats.extract(
        data.clips,
        cache_dir=cache_dir,
        feature_sets=("mfcc", "logmel"),
        logmel=logmel,
        n_jobs=n_jobs,
        progress=progress,
        decode=decode,
    )
    store = SimpleNamespace(status=status, cache_dir=Path(cache_dir), logmel=logmel, decode=decode)
    results = run_data_checks(data=data, features=store, seed=seed, n_jobs=n_jobs)
    results += unusable_user_checks()  # whatever their stage: a run's report shows them too
    out = Path(out)
    save_checks(results, RunLayout(out).checks)
    scores = None
    shown = list(results)
    if data.layout.truth_csv.exists():
        scores = score_against_truth(results, load_truth(data.layout.truth_csv))
        shown.append(truth_result(scores))
    meta = {
        "root": str(root),
        "format": kind,
        "subset": data.subset,
        "clips": len(data.clips),
        "seed": seed,
    }
    if data.label_fixes is not None:
        meta["label_fixes"] = (
            f"{data.label_fixes['file']} (sha256 {data.label_fixes['sha256'][:12]})"
        )
    write_report(shown, out, title=f"fma-harness data checks: {Path(root).name}", meta=meta)
    return results, scores


def review_dataset(
    *,
    root: Path,
    cache_dir: Path,
    checks_dir: Path,
    out: Path | None = None,
    max_cards: int = 200,
    subset: str = "small",
    format: str | None = None,
    seed: int = 0,
    n_jobs: int = -1,
) -> ReviewPage:
    """``fma-harness review --root``: :func:`check_dataset` into ``checks_dir``, then the
    review page of its findings (``out``, default ``checks_dir/review``), with no model's
    top-3 (no model was trained)."""
    data = prepare_for_checks(root=root, format=format, subset=subset, seed=seed)
    results, _ = check_dataset(
        root=root,
        subset=subset,
        cache_dir=cache_dir,
        out=checks_dir,
        seed=seed,
        n_jobs=n_jobs,
        progress=False,
        format=format,
        data=data,
    )
    return build_review(
        results=results,
        data=data,
        out=Path(out) if out is not None else Path(checks_dir) / REVIEW_DIR,
        title=f"fma-harness review: {Path(root).name}",
        max_cards=max_cards,
    )
