"""``fma-harness predict``: a model bundle's calibrated probabilities for any audio files.

:func:`predict_files` streams: files are decoded and featurised in batches (in parallel with
joblib), each batch goes through the model at once and is appended to the output before the
next one starts, so memory stays flat in the number of files and a rerun resumes where the
last one stopped (:mod:`harness.bundles.output`). The numbers are the run's: same
decode and features (:mod:`harness.bundles.featurise`), the model's own logits, the
temperature fitted on validation, the task's class columns, and the training prior for a file
with no signal, so on a run's challenge folder the challenge CSV equals the run's submission.

Exit codes (``fma-harness predict``): 0 every file predicted; 1 a user error before any work;
2 a usage error; :data:`EXIT_FILES_FAILED` (4) some files failed to decode, their rows hold the
training prior and a reason; :data:`EXIT_BUDGET` (5) the time budget ran out, the remaining
files' rows hold the prior (a rerun predicts them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.bundles.bundle import ENSEMBLE_KIND, ModelBundle, bundle_checksum, load_bundle
from harness.bundles.ensemble import (
    ensemble_logits,
    ensemble_recipe,
    featurise_any,
    warm_up_any,
)
from harness.bundles.featurise import (
    FeatureRecipe,
    FileFeatures,
    find_audio,
    long_track_chunks,
)
from harness.bundles.inputs import FeatureTableModel, LogMelModel
from harness.bundles.output import BUDGET, FORMATS, PredictedRow, PredictionFile
from harness.config.model_settings import check_device
from harness.data.challenge import fits_in_csv
from harness.data.layout import DEFAULT_CACHE_DIR
from harness.errors import DataError, ParameterError
from harness.pretrained.files import representation_rows
from harness.scoring.calibration import GenreTemperatureScaler, TemperatureScaler
from harness.scoring.groups import expand_columns

EXIT_FILES_FAILED = 4
EXIT_BUDGET = 5
LOG_EVERY = 100  # files between progress lines when stderr is not a terminal


@dataclass
class PredictSummary:
    """What :func:`predict_files` did (counts are files)."""

    out: Path
    fmt: str
    n_files: int = 0
    n_skipped: int = 0
    n_predicted: int = 0
    n_failed: int = 0
    n_silent: int = 0
    n_budget: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.n_budget:
            return EXIT_BUDGET
        return EXIT_FILES_FAILED if self.n_failed else 0


def output_format(fmt: str, out: Path, bundle_spec: dict) -> str:
    """The format to write: ``fmt``, or for ``auto`` the one ``out``'s suffix and the bundle
    suggest (``.jsonl``: jsonl; a challenge-genre single-label bundle: challenge; else csv)."""
    from harness.data.taxonomy import CHALLENGE_GENRES

    challenge_ok = bundle_spec["task"] == "genre_top" and set(bundle_spec["classes"]) <= set(
        CHALLENGE_GENRES
    )
    if fmt == "auto":
        if out.suffix.lower() in (".jsonl", ".json"):
            return "jsonl"
        return "challenge" if challenge_ok else "csv"
    if fmt not in FORMATS:
        raise ParameterError(f"--format {fmt!r}: expected auto, {', '.join(FORMATS)}")
    if fmt == "challenge" and not challenge_ok:
        odd = [c for c in bundle_spec["classes"] if c not in CHALLENGE_GENRES][:3]
        what = (
            f"task {bundle_spec['task']!r}"
            if bundle_spec["task"] != "genre_top"
            else f"classes {odd} that are not challenge genres"
        )
        raise DataError(
            f"--format challenge: the bundle has {what}; the challenge CSV needs a genre_top "
            "model of the 16 challenge genres: use --format csv or --format jsonl"
        )
    return fmt


def predict_files(
    bundle_path: Path,
    inputs: list[Path],
    *,
    out: Path,
    fmt: str = "auto",
    top_k: int = 3,
    middle: bool = False,
    n_jobs: int = 1,
    device: str = "auto",
    batch_size: int = 64,
    budget: float | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    trust_types: tuple[str, ...] = (),
    trust_pickle: bool = False,
) -> PredictSummary:
    """Predict every audio file of ``inputs`` with a bundle and write ``out``.

    Parameters
    ----------
    bundle_path : Path
        A model bundle (:mod:`harness.bundles.bundle`).
    inputs : list of Path
        Folders (searched recursively), audio files, or text files listing paths.
    out : Path
        The output file; its folder must exist. Rows already in it are kept and skipped.
    fmt : str
        ``auto``, ``challenge``, ``csv`` or ``jsonl`` (:mod:`harness.bundles.output`).
    top_k : int
        Genres named per row (csv, jsonl).
    middle : bool
        Use the middle 30 s of each track instead of all of it.
    n_jobs : int
        Decode workers (joblib loky; 1 decodes in this process, -1 uses every core).
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N``: where a neural model runs.
    batch_size : int
        Files decoded, predicted and written together.
    budget : float, optional
        Seconds for the whole command; when the next batch would not fit, the remaining files
        get the training prior with status ``budget``.
    progress : bool, optional
        A progress bar (default: when stderr is a terminal); else a line every LOG_EVERY files.
    log : callable, optional
        Where messages go (default: stderr).
    trust_types, trust_pickle
        As :func:`~harness.bundles.bundle.load_bundle`'s: what the bundle may load.
    """
    started = time.monotonic()
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    out = Path(out)
    check_options(out, top_k=top_k, n_jobs=n_jobs, batch_size=batch_size, device=device)
    bundle = load_bundle(
        bundle_path, device=device, trust_types=trust_types, trust_pickle=trust_pickle
    )
    fmt = output_format(fmt, out, bundle.spec)
    paths = find_audio(inputs)
    keyed = [(str(p), p.stem) for p in paths]
    if fmt == "challenge":
        _check_unique_ids(paths)
    sink = PredictionFile(
        out,
        fmt=fmt,
        classes=bundle.classes,
        top_k=top_k,
        bundle=bundle_checksum(bundle.path),
        middle=middle,
    )
    done = sink.resume()
    pending = [kp for kp in keyed if sink.key(kp) not in done]
    summary = PredictSummary(out=out, fmt=fmt, n_files=len(paths))
    summary.n_skipped = len(paths) - len(pending)
    if summary.n_skipped:
        log(f"{out}: {summary.n_skipped} of {len(paths)} files already written; skipping them")
    recipe = recipe_of(bundle, middle=middle)
    _run_batches(
        bundle,
        recipe,
        pending,
        sink,
        summary,
        n_jobs=n_jobs,
        batch_size=batch_size,
        budget=budget,
        started=started,
        progress=progress,
        log=log,
    )
    if fmt == "challenge":
        _validate(out, [fid for _, fid in keyed])
    summary.seconds = time.monotonic() - started
    return summary


def check_options(out: Path, *, top_k: int, n_jobs: int, batch_size: int, device: str) -> None:
    """Refuse a bad option before the bundle is loaded or any file decoded (one line each)."""
    if out.is_dir():
        raise DataError(
            f"--out {out}: is a folder; name a file in it, e.g. --out {out / 'predictions.csv'}"
        )
    if not out.parent.is_dir():
        raise DataError(f"{out.parent}: the folder of --out does not exist; create it first")
    if top_k < 1:
        raise ParameterError(f"--top-k {top_k}: expected 1 or more genres per row")
    if n_jobs == 0:
        raise ParameterError("--n-jobs 0: expected 1 or more workers, or -1 for every core")
    if batch_size < 1:
        raise ParameterError(f"--batch-size must be >= 1, got {batch_size}")
    check_device(device)


def recipe_of(bundle: ModelBundle, *, middle: bool = False) -> FeatureRecipe:
    """The :class:`FeatureRecipe` of a bundle (what its model was trained on); an ensemble's
    :class:`~harness.bundles.ensemble.EnsembleRecipe` holds its members'."""
    if bundle.kind == ENSEMBLE_KIND:
        return ensemble_recipe([recipe_of(m, middle=middle) for m in bundle.estimator.bundles])
    return FeatureRecipe(
        kind=bundle.kind,
        logmel=bundle.logmel,
        silence_rms=float(bundle.spec["decode"]["silence_rms"]),
        predict_silent=bool(bundle.spec.get("reference")),
        middle=middle,
        waveform_sr=bundle.spec["features"].get("sr"),
    )


def _check_unique_ids(paths: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise DataError(
                f"{path}: same file id {path.stem!r} as {seen[path.stem]}; the challenge CSV "
                "needs distinct names: rename one, or use --format csv"
            )
        if not fits_in_csv(path.stem):
            raise DataError(
                f"{path}: the file id {path.stem!r} cannot go in a challenge CSV (comma, quote, "
                "line break or spaces at its ends); rename it, or use --format csv"
            )
        seen[path.stem] = path


def _run_batches(
    bundle, recipe, pending, sink, summary, *, n_jobs, batch_size, budget, started, progress, log
) -> None:
    """Decode, predict and append ``pending`` batch by batch, within ``budget``."""
    from joblib import Parallel, delayed

    parallel = n_jobs != 1 and len(pending) > 1
    if parallel:
        warm_up_any(recipe)
    reporter = _Progress(len(pending), progress=progress, log=log)
    pool = Parallel(n_jobs=n_jobs, backend="loky") if parallel else None
    with reporter, pool if pool is not None else _nothing():
        # the rate per file leaves out the set-up (bundle, warm-up): it is not paid again
        first = time.monotonic()
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            clock = (started, first)
            if budget is not None and start and _out_of_time(clock, budget, start, len(batch)):
                rest = pending[start:]
                reason = f"{BUDGET}: the --budget of {budget:g} s ran out before this file"
                rows = [PredictedRow(p, fid, bundle.prior, BUDGET, reason) for p, fid in rest]
                sink.append(rows)
                summary.n_budget = len(rest)
                log(f"time budget reached: {len(rest)} files written with the training prior")
                return
            if pool is not None:
                feats = pool(delayed(featurise_any)(p, recipe) for p, _ in batch)
            else:
                feats = [featurise_any(p, recipe) for p, _ in batch]
            rows = predict_rows(bundle, batch, feats)
            sink.append(rows)
            _count(summary, rows)
            reporter.advance(len(batch))
            if start == 0 and budget is not None:
                _project((started, first), budget, len(batch), len(pending), log)


def _out_of_time(clock: tuple[float, float], budget: float, done: int, next_batch: int) -> bool:
    """Whether the next batch would end past ``budget`` s; ``clock`` is (command start, first
    batch start), ``done`` the files since the first batch."""
    started, first = clock
    per_file = (time.monotonic() - first) / done
    return time.monotonic() - started + per_file * next_batch > budget


def _project(clock: tuple[float, float], budget: float, done: int, total: int, log) -> None:
    started, first = clock
    per_file = (time.monotonic() - first) / done
    projected = first - started + per_file * total
    fits = "fits in" if projected <= budget else "exceeds"
    log(
        f"projected time: {projected:.0f} s for {total} files after the first {done} "
        f"({fits} the budget of {budget:g} s)"
    )


def _count(summary: PredictSummary, rows: list[PredictedRow]) -> None:
    for row in rows:
        if row.status == "failed":
            summary.n_failed += 1
            if len(summary.failures) < 5:
                summary.failures.append(f"{row.path}: {row.reason}")
        elif row.status == "silent":
            summary.n_silent += 1
        else:
            summary.n_predicted += 1


def predict_rows(
    bundle: ModelBundle, batch: list[tuple[str, str]], feats: list[FileFeatures]
) -> list[PredictedRow]:
    """Rows of one batch: calibrated probabilities of the files with features, the training
    prior and a reason for the others."""
    usable = [i for i, f in enumerate(feats) if f.values is not None]
    proba = np.tile(bundle.prior, (len(batch), 1))
    if usable:
        proba[usable] = probabilities(bundle, [feats[i] for i in usable])
    return [
        PredictedRow(path, fid, proba[i], f.status, f.reason)
        for i, ((path, fid), f) in enumerate(zip(batch, feats, strict=True))
    ]


def probabilities(bundle: ModelBundle, feats: list[FileFeatures]) -> np.ndarray:
    """Calibrated probabilities (n, len(classes)) of files with features: a model's, or an
    ensemble's (its temperature on the log of its members' weighted mean, as in the run)."""
    if bundle.kind != ENSEMBLE_KIND:
        return calibrated(bundle, model_logits(bundle, feats))
    members = bundle.estimator
    probas = [
        probabilities(member, [f.values[j] for f in feats])
        for j, member in enumerate(members.bundles)
    ]
    return calibrated(bundle, ensemble_logits(probas, members.weights))


def model_logits(bundle: ModelBundle, feats: list[FileFeatures]) -> np.ndarray:
    """The model's logits (n, len(model_classes)), float64, as the run computes them."""
    estimator = bundle.estimator
    if bundle.kind == "embeddings":
        pairs = [tuple(pair) for pair in bundle.spec["features"]["pretrained"]]
        X = representation_rows(
            [f.values for f in feats], pairs, cache_dir=DEFAULT_CACHE_DIR, device=bundle.device
        )
        return FeatureTableModel().logits(estimator, X, task=bundle.task)
    if bundle.kind != "logmel":
        X = np.stack([f.values for f in feats]).astype(np.float64)
        return FeatureTableModel().logits(estimator, X, task=bundle.task)
    out = np.empty((len(feats), len(bundle.spec["model_classes"])), dtype=np.float64)
    regular = [i for i, f in enumerate(feats) if not f.long]
    if regular:
        X = np.stack([feats[i].values for i in regular])
        out[regular] = LogMelModel().logits(estimator, X, task=bundle.task)
    n_eval = estimator.n_eval_chunks
    for i in (i for i, f in enumerate(feats) if f.long):
        frames = feats[i].values.shape[1]
        chunks = long_track_chunks(
            frames, chunk_frames=estimator.chunk_frames_, n_eval_chunks=n_eval
        )
        estimator.set_params(n_eval_chunks=chunks)
        try:
            out[i] = LogMelModel().logits(estimator, feats[i].values[None], task=bundle.task)[0]
        finally:
            estimator.set_params(n_eval_chunks=n_eval)
    return out


def calibrated(bundle: ModelBundle, logits: np.ndarray) -> np.ndarray:
    """Calibrated probabilities over the bundle's classes, (n, len(classes)) float64, as
    :func:`harness.scoring.groups.score_groups` makes them."""
    model_classes = list(bundle.spec["model_classes"])
    calibration = bundle.spec["calibration"]
    if bundle.task == "genre_top":
        scaler = TemperatureScaler()
        scaler.temperature_ = float(calibration["temperature"])
        return expand_columns(
            scaler.transform(logits), model_classes=model_classes, classes=bundle.classes
        )
    z = expand_columns(logits, model_classes=model_classes, classes=bundle.classes)
    genre_scaler = GenreTemperatureScaler()
    genre_scaler.temperatures_ = np.asarray(calibration["temperatures"], dtype=np.float64)
    return genre_scaler.transform(z)


def _validate(out: Path, expected_ids: list[str]) -> None:
    from harness.scoring.submission.validate import validate_submission

    problems = validate_submission(out, expected_ids=expected_ids)
    if problems:
        raise DataError(
            f"{out}: not a valid challenge submission ({len(problems)} problems, first: "
            f"{problems[0]}); if it holds rows of other files, pass another --out"
        )


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Progress:
    """A rich bar on a terminal; otherwise a line every LOG_EVERY files."""

    def __init__(self, total: int, *, progress: bool | None, log) -> None:
        self.total, self.done, self.log = total, 0, log
        self.show = sys.stderr.isatty() if progress is None else progress
        self.started = time.monotonic()
        self.bar = None

    def __enter__(self):
        if self.show and self.total:
            from rich.progress import Progress

            self.bar = Progress(transient=False)
            self.bar.start()
            self.task = self.bar.add_task("predicting", total=self.total)
        return self

    def advance(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if self.bar is not None:
            self.bar.advance(self.task, n)
        elif self.done // LOG_EVERY > before // LOG_EVERY or self.done == self.total:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            self.log(f"predicted {self.done}/{self.total} files ({rate:.1f} files/s)")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
