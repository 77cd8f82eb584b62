"""Results: compare every model a run trained, from what it saved in the run directory.

Reads ``models/<name>/predictions_<split>.npz`` (keys ``keys``, ``y_true``, ``classes``,
``proba``, ``proba_calibrated``) and ``models/<name>/history.csv``, and produces: the comparison
table (log loss, macro F1, accuracy, each with a bootstrap 95% interval, with ``prior`` and
``uniform`` as reference rows), each model against ``mfcc-logreg`` on paired resamples,
per-class F1, confusion matrices, reliability diagrams before and after calibration, and
learning curves. Metrics come from :mod:`harness.scoring.metrics.single`. A multi-label run
gets the learning curves and a SKIP pointing to :mod:`harness.checks.runs.tagging`.
"""

from __future__ import annotations

import contextlib
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult
from harness.checks.figures import (
    comparison_figure,
    confusion_figure,
    learning_curve_figure,
    reliability_curve,
    reliability_figure,
)
from harness.errors import DataError
from harness.registry import REFERENCE_MODELS
from harness.run_layout import IN_RUN, RunLayout
from harness.scoring import metrics
from harness.scoring.metrics.single import DegenerateInputWarning

FAMILY = "results"
METRICS = ("log_loss", "macro_f1", "accuracy")
ROW_ARRAYS = ("keys", "y_true", "proba", "proba_calibrated")  # one row per track
N_BOOT = 300
BASELINE = "mfcc-logreg"  # the FMA paper's and the challenge's reference model
CLEAR_WIN = 0.95  # fraction of paired resamples a model must win to count as better


def load_predictions(run_dir: Path, *, split: str) -> dict[str, dict[str, np.ndarray]]:
    """model name -> arrays of ``predictions_<split>.npz`` (models without the file left out).

    Every model's rows are put in the first model's key order, so row ``i`` is the same track
    for all of them; models that scored a different set of tracks are refused.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for path in RunLayout(Path(run_dir)).prediction_files(split):
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:  # truncated or not an npz
            raise DataError(
                f"{path}: cannot be read ({type(exc).__name__}: {exc}); the run's "
                "predictions are damaged: run it again"
            ) from None
        if "y_true" not in arrays:
            continue
        if out:
            first_name, first = next(iter(out.items()))
            order = pd.Index(arrays["keys"]).get_indexer(first["keys"])
            if len(arrays["keys"]) != len(first["keys"]) or (order < 0).any():
                raise DataError(
                    f"{path}: scores other {split} tracks than {first_name}; rerun the run "
                    "so that every model is scored on the same clips"
                )
            arrays = {k: v[order] if k in ROW_ARRAYS else v for k, v in arrays.items()}
        out[path.parent.name] = arrays
    return out


def _reference_rows(preds: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Probabilities of the reference rows a run did not train (uniform; prior from y_true)."""
    first = next(iter(preds.values()))
    y, classes = first["y_true"].astype(str), first["classes"].astype(str)
    n, c = len(y), len(classes)
    refs = {}
    if "uniform" not in preds:
        refs["uniform"] = np.full((n, c), 1.0 / c)
    if "prior" not in preds:
        freq = pd.Series(y).value_counts(normalize=True).reindex(classes, fill_value=0.0)
        refs["prior (evaluated split's frequencies)"] = np.tile(freq.to_numpy(), (n, 1))
    return refs


def comparison(
    preds: dict[str, dict[str, np.ndarray]], *, split: str, n_boot: int = N_BOOT, seed: int = 0
) -> CheckResult:
    """Comparison table of every model with bootstrap 95% intervals."""
    first = next(iter(preds.values()))
    y, labels = first["y_true"].astype(str), list(first["classes"].astype(str))
    entries = [(name, a["proba"], a.get("proba_calibrated")) for name, a in preds.items()]
    entries += [(name, p, None) for name, p in _reference_rows(preds).items()]
    rows = []
    for name, proba, calibrated in entries:
        row: dict[str, object] = {"model": name, "kind": _kind(name)}
        for metric in METRICS:
            fn = getattr(metrics, metric)
            low, high = metrics.bootstrap_ci(fn, y, proba, n_boot=n_boot, seed=seed, labels=labels)
            row[metric] = round(fn(y, proba, labels=labels), 4)
            row[f"{metric} 95% CI"] = f"[{low:.3f}, {high:.3f}]"
        if calibrated is not None:
            row["log_loss calibrated"] = round(metrics.log_loss(y, calibrated, labels=labels), 4)
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("log_loss", kind="stable").reset_index(drop=True)
    prior_ll = float(table.loc[table["kind"] == "reference", "log_loss"].min())
    worse = table[(table["kind"] == "model") & (table["log_loss"] >= prior_ll)]["model"].tolist()
    best = table[table["kind"] == "model"].head(1)
    finding = f"{split} split, {len(y)} tracks, {len(labels)} classes"
    if not best.empty:
        b = best.iloc[0]
        finding += (
            f"; best {b['model']}: log loss {b['log_loss']:.3f} {b['log_loss 95% CI']}, "
            f"macro F1 {b['macro_f1']:.3f}, accuracy {b['accuracy']:.3f}"
        )
    if worse:
        finding += f"; no better than the references: {', '.join(worse)}"
    return CheckResult(
        FAMILY,
        "comparison",
        "WARN" if worse else "PASS",
        finding,
        evidence=table,
        action="a model that does not beat the prior's log loss has learned nothing usable"
        if worse
        else "",
        figures=[comparison_figure(table)],
    )


def paired_comparison(
    preds: dict[str, dict[str, np.ndarray]],
    *,
    split: str,
    baseline: str = BASELINE,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> CheckResult:
    """Each model minus ``baseline`` on the same bootstrap resamples of the split's tracks.

    A model counts as better (worse) on a metric when it wins (loses) in at least ``CLEAR_WIN``
    of the resamples; the finding names the models that are clearly better on both metrics,
    those clearly worse on at least one, and those the split cannot tell from the baseline.
    """
    if baseline not in preds:
        return CheckResult(FAMILY, "paired_comparison", "SKIP", f"no {baseline} in this run")
    base = preds[baseline]
    y, labels = base["y_true"].astype(str), list(base["classes"].astype(str))
    rows = []
    for name, arrays in preds.items():
        if name == baseline or _kind(name) == "reference":
            continue
        row: dict[str, object] = {"model": name}
        for metric, higher in (("log_loss", False), ("macro_f1", True)):
            result = metrics.paired_bootstrap(
                getattr(metrics, metric),
                y,
                arrays["proba"],
                base["proba"],
                higher_is_better=higher,
                n_boot=n_boot,
                seed=seed,
                labels=labels,
            )
            row[f"{metric} difference"] = round(result["difference"], 4)
            row[f"{metric} 95% CI"] = f"[{result['low']:+.3f}, {result['high']:+.3f}]"
            row[f"{metric} better in"] = round(result["a_better"], 3)
            row[f"{metric} worse in"] = round(result["a_worse"], 3)
        rows.append(row)
    if not rows:
        return CheckResult(FAMILY, "paired_comparison", "SKIP", f"no model besides {baseline}")
    table = pd.DataFrame(rows)
    wins = (table["log_loss better in"] >= CLEAR_WIN) & (table["macro_f1 better in"] >= CLEAR_WIN)
    losses = (table[["log_loss worse in", "macro_f1 worse in"]] >= CLEAR_WIN).any(axis=1)
    unclear = table.loc[~wins & ~losses, "model"].tolist()
    finding = (
        f"each model minus {baseline} on {len(y)} {split} tracks ({n_boot} paired resamples); "
        f"clearly better on log loss and macro F1: {', '.join(table.loc[wins, 'model']) or 'none'}"
    )
    if losses.any():
        finding += f"; clearly worse on at least one: {', '.join(table.loc[losses, 'model'])}"
    if unclear:
        finding += f"; not distinguishable on this split: {', '.join(unclear)}"
    return CheckResult(
        FAMILY,
        "paired_comparison",
        "PASS",
        finding,
        evidence=table,
        action=f"to separate {', '.join(unclear)} from {baseline}, evaluate on more tracks "
        "(a larger subset or split) or several seeds"
        if unclear
        else "",
    )


def _kind(name: str) -> str:
    return "reference" if name.split(" ")[0] in REFERENCE_MODELS else "model"


def per_class_f1(preds: dict[str, dict[str, np.ndarray]]) -> CheckResult:
    """F1 of every class for every model (rows classes, columns models)."""
    columns = {}
    for name, a in preds.items():
        labels = list(a["classes"].astype(str))
        table = metrics.per_class_table(a["y_true"].astype(str), a["proba"], labels=labels)
        columns[name] = table["f1"].round(3)
        support = table["support"]
    frame = pd.DataFrame(columns)
    frame.insert(0, "support", support)
    frame.index.name = "genre"
    present = frame["support"] > 0
    models = [m for m in columns if _kind(m) == "model"]
    zero = [
        f"{m}: {', '.join(frame.index[present & (frame[m] == 0)])}"
        for m in models
        if (present & (frame[m] == 0)).any()
    ]
    hardest = frame.loc[present, models or list(columns)].mean(axis=1).idxmin()
    return CheckResult(
        FAMILY,
        "per_class_f1",
        "WARN" if zero else "PASS",
        f"hardest class on average: {hardest}"
        + (f"; classes never predicted right — {'; '.join(zero)}" if zero else ""),
        evidence=frame,
        action="classes with F1 0 are ignored by a model: rebalance (class weights) or check "
        "their labels"
        if zero
        else "",
    )


def confusion_matrices(preds: dict[str, dict[str, np.ndarray]]) -> CheckResult:
    """Row-normalised confusion matrices (true rows, predicted columns), one figure per model."""
    figures, pairs = [], []
    for name, a in preds.items():
        if _kind(name) == "reference":
            continue  # a constant prediction: one column, nothing to read
        labels = list(a["classes"].astype(str))
        cm = metrics.confusion_matrix(a["y_true"].astype(str), a["proba"], labels=labels)
        figures.append(confusion_figure(cm, labels, title=name))
        off = cm.astype(float).copy()
        np.fill_diagonal(off, 0)
        i, j = np.unravel_index(int(off.argmax()), off.shape)
        pairs.append(
            {
                "model": name,
                "most confused (true -> predicted)": f"{labels[i]} -> {labels[j]}",
                "count": int(off[i, j]),
                "of true": int(cm[i].sum()),
            }
        )
    return CheckResult(
        FAMILY,
        "confusion_matrices",
        "PASS",
        "most frequent confusion per model in the table; matrices below (rows: true genre)",
        evidence=pd.DataFrame(
            pairs, columns=["model", "most confused (true -> predicted)", "count", "of true"]
        ),
        figures=figures,
    )


def calibration(preds: dict[str, dict[str, np.ndarray]]) -> CheckResult:
    """Reliability before and after temperature scaling, with ECE and log loss of each."""
    rows, figures = [], []
    for name, a in preds.items():
        if "proba_calibrated" not in a:
            continue
        labels = list(a["classes"].astype(str))
        y = a["y_true"].astype(str)
        curves = {}
        row: dict[str, object] = {"model": name}
        for tag, proba in (("raw", a["proba"]), ("calibrated", a["proba_calibrated"])):
            correct = np.asarray(labels)[proba.argmax(axis=1)] == y
            curves[tag] = reliability_curve(correct, proba.max(axis=1))
            row[f"ece {tag}"] = round(
                metrics.expected_calibration_error(y, proba, labels=labels), 4
            )
            row[f"log_loss {tag}"] = round(metrics.log_loss(y, proba, labels=labels), 4)
        rows.append(row)
        figures.append(reliability_figure(curves, title=name))
    if not rows:
        return CheckResult(FAMILY, "calibration", "SKIP", "no calibrated predictions stored")
    table = pd.DataFrame(rows)
    worse = table[table["log_loss calibrated"] > table["log_loss raw"] + 1e-3]["model"].tolist()
    return CheckResult(
        FAMILY,
        "calibration",
        "WARN" if worse else "PASS",
        "temperature scaling "
        + (f"makes log loss worse for {', '.join(worse)}" if worse else "never hurts log loss")
        + f"; median ECE {table['ece raw'].median():.3f} -> {table['ece calibrated'].median():.3f}",
        evidence=table,
        action="calibration fitted on a small validation set can overfit: check its size"
        if worse
        else "",
        figures=figures,
    )


def learning_curves(run_dir: Path) -> CheckResult:
    """Learning curves from every ``models/<name>/history.csv``."""
    figures, rows = [], []
    for path in RunLayout(Path(run_dir)).history_files():
        history = pd.read_csv(path)
        if history.empty:
            continue
        figures.append(learning_curve_figure(history, title=path.parent.name))
        row = {"model": path.parent.name, "epochs": len(history)}
        if "val_log_loss" in history:
            row["best epoch"] = int(history["val_log_loss"].idxmin()) + 1
            row["best val_log_loss"] = round(float(history["val_log_loss"].min()), 4)
        rows.append(row)
    if not rows:
        return CheckResult(FAMILY, "learning_curves", "SKIP", "no model stored a training history")
    return CheckResult(
        FAMILY,
        "learning_curves",
        "PASS",
        f"{len(rows)} models with a training history",
        evidence=pd.DataFrame(rows),
        figures=figures,
    )


def from_run(run_dir: Path, *, n_boot: int = N_BOOT, seed: int = 0) -> list[CheckResult]:
    """Every results section of a run (test split if stored, else validation), one after
    another: the report runs :attr:`from_run.parts` side by side instead."""
    return [
        *comparison_part(run_dir, n_boot=n_boot, seed=seed),
        *paired_part(run_dir, n_boot=n_boot, seed=seed),
        *per_class_part(run_dir),
        *confusion_part(run_dir),
        *calibration_part(run_dir),
        *learning_curves_part(run_dir),
    ]


@contextlib.contextmanager
def _absent_classes_expected() -> Iterator[None]:
    with warnings.catch_warnings():
        # a class absent from a small test split is expected; the tables show its support
        warnings.simplefilter("ignore", DegenerateInputWarning)
        yield


def stored_predictions(run_dir: Path) -> tuple[str, dict[str, dict[str, np.ndarray]]]:
    """(split, :func:`load_predictions` of it): the test split if any model stored it, else
    the validation split (empty predictions when neither is stored)."""
    for split in ("test", "validation"):
        preds = load_predictions(run_dir, split=split)
        if preds:
            return split, preds
    return "validation", {}


def _single_label(preds: dict[str, dict[str, np.ndarray]]) -> bool:
    return bool(preds) and next(iter(preds.values()))["y_true"].ndim == 1


def comparison_part(run_dir: Path, *, n_boot: int = N_BOOT, seed: int = 0) -> list[CheckResult]:
    """The comparison table; a SKIP saying why for a run without predictions or with
    multi-label ones (the single-label tables do not apply to those)."""
    split, preds = stored_predictions(run_dir)
    if not preds:
        return [CheckResult(FAMILY, "comparison", "SKIP", "no model predictions in the run")]
    if not _single_label(preds):
        reason = (
            f"multi-label run: the tagging metrics are in {IN_RUN.leaderboard_md} and the tagging "
            "section (per-genre ROC-AUC and PR-AUC)"
        )
        return [CheckResult(FAMILY, "comparison", "SKIP", reason)]
    with _absent_classes_expected():
        return [comparison(preds, split=split, n_boot=n_boot, seed=seed)]


def _single_label_section(
    run_dir: Path, build: Callable[[dict[str, dict[str, np.ndarray]], str], CheckResult]
) -> list[CheckResult]:
    """``[build(predictions, split)]`` of a single-label run's stored predictions; nothing for
    a multi-label run or one without predictions (the comparison part says why)."""
    split, preds = stored_predictions(run_dir)
    if not _single_label(preds):
        return []
    with _absent_classes_expected():
        return [build(preds, split)]


def paired_part(run_dir: Path, *, n_boot: int = N_BOOT, seed: int = 0) -> list[CheckResult]:
    """Each model against mfcc-logreg (single-label runs)."""
    return _single_label_section(
        run_dir,
        lambda preds, split: paired_comparison(preds, split=split, n_boot=n_boot, seed=seed),
    )


def per_class_part(run_dir: Path) -> list[CheckResult]:
    """Per-class F1 (single-label runs)."""
    return _single_label_section(run_dir, lambda preds, _: per_class_f1(preds))


def confusion_part(run_dir: Path) -> list[CheckResult]:
    """Confusion matrices (single-label runs)."""
    return _single_label_section(run_dir, lambda preds, _: confusion_matrices(preds))


def calibration_part(run_dir: Path) -> list[CheckResult]:
    """Reliability before and after calibration (single-label runs)."""
    return _single_label_section(run_dir, lambda preds, _: calibration(preds))


def learning_curves_part(run_dir: Path) -> list[CheckResult]:
    """Learning curves of any run with predictions."""
    _, preds = stored_predictions(run_dir)
    return [learning_curves(run_dir)] if preds else []


# the registry runs these side by side (harness.checks.registry.run_checks): with the other
# built-in checks, in a process each, the default run's report stage took 2.9-3.3 s against
# 3.6-4.3 s on 2 cores (fresh clones); most of it is drawing these parts' 22 figures
from_run.parts = (
    comparison_part,
    paired_part,
    per_class_part,
    confusion_part,
    calibration_part,
    learning_curves_part,
)
