"""Robustness: how each model degrades when the test audio changes (``run --robustness``).

Reads what :mod:`harness.run.robustness` writes into the run directory:
``robustness.csv`` (per model and change: clips scored, clips failed, log loss and accuracy on
the changed clips and on the same clean clips, and their differences), ``robustness_failures.csv``
(key, change, error) and ``robustness.json`` (the mild changes; the reason when the stage
skipped). It gives two results:

- ``degradation``: the change in test accuracy and log loss of every model under every audio
  change (rows: changes; columns: per model), and a figure of the accuracy changes as grouped
  bars. Verdict **WARN** when some model loses more than ``MILD_ACCURACY_DROP`` (10 percentage
  points) of test accuracy under a *mild* change (:data:`harness.features.perturb.MILD_CHANGES`:
  white noise at 20 dB SNR, MP3 at 64 kbps, gain -12 dB: a listener hears the same recording,
  so a genre model should barely move; 10 points is 4 clips of a 40-clip test split, beyond a
  one- or two-clip wobble). Pitch and tempo changes are shown but never warn: they move the
  cues a genre model may fairly rely on. **PASS** otherwise;
- ``failed_clips``: the (clip, change) pairs the change or a feature failed on, left out of both
  scores of that change. **WARN** when there are any, **PASS** when none.

Both say **SKIP** with the reason when the run has no ``robustness.csv``: run with
``--robustness``, or the reason the stage skipped (a ``genres_all`` run, official features);
``degradation`` says **FAIL** with the error when the stage raised (``robustness_error.txt``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.checks.base import CheckResult, skip
from harness.checks.runs.robustness_figures import accuracy_change_figure
from harness.features.perturb import MILD_CHANGES
from harness.run_layout import IN_RUN, RunLayout

FAMILY = "robustness"
MILD_ACCURACY_DROP = 0.10  # a fraction of the test clips: 10 percentage points
ACTION = (
    "the model leans on the recording's level, codec or noise floor: train with those changes "
    "as augmentation (random gain, added noise, MP3 round trips), or normalise its input "
    "(per-clip log-mel standardisation)"
)


def from_run(run_dir: Path) -> list[CheckResult]:
    """``degradation`` and ``failed_clips`` of a run's robustness stage; SKIPs without one."""
    layout = RunLayout(Path(run_dir))
    info = _info(layout)
    if info.get("failed"):
        return [
            CheckResult(
                FAMILY,
                "degradation",
                "FAIL",
                f"the robustness stage failed: {info['failed']}",
                action=f"read the traceback in {layout.robustness_error}",
            )
        ]
    if not layout.robustness_table.is_file():
        missing = f"no {IN_RUN.robustness_table} in the run: run with --robustness"
        return [skip(FAMILY, "degradation", info.get("skipped") or missing)]
    table = pd.read_csv(layout.robustness_table)
    mild = list(info.get("mild") or MILD_CHANGES)
    failures_path = layout.robustness_failures
    failures = pd.read_csv(failures_path, dtype={"key": str}) if failures_path.is_file() else None
    return [degradation(table, mild=mild), failed_clips(failures, table)]


def _info(layout: RunLayout) -> dict:
    path = layout.robustness_info
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def change_table(table: pd.DataFrame, *, mild: list[str]) -> pd.DataFrame:
    """Rows: changes (index ``change``, run order); columns ``mild``, ``clips``, then for each
    model ``<model> Δ accuracy`` and ``<model> Δ log loss`` (changed minus clean)."""
    changes = list(dict.fromkeys(table["change"]))
    models = list(dict.fromkeys(table["model"]))
    frame = pd.DataFrame(index=pd.Index(changes, name="change"))
    frame["mild"] = ["yes" if c in mild else "" for c in changes]
    frame["clips"] = table.groupby("change", sort=False)["n_clips"].max().reindex(changes)
    by_pair = table.set_index(["change", "model"])
    for model in models:
        for column, label in (("delta_accuracy", "Δ accuracy"), ("delta_log_loss", "Δ log loss")):
            values = [by_pair[column].get((c, model), float("nan")) for c in changes]
            frame[f"{model} {label}"] = values
    return frame


def degradation(table: pd.DataFrame, *, mild: list[str]) -> CheckResult:
    """WARN when a model loses more than MILD_ACCURACY_DROP accuracy under a mild change."""
    if table.empty:
        finding = f"{IN_RUN.robustness_table} has no rows (no model was scored)"
        return skip(FAMILY, "degradation", finding)
    scored = table.dropna(subset=["delta_accuracy"])
    worst = scored.loc[scored["delta_accuracy"].idxmin()] if len(scored) else None
    mild_rows = scored[scored["change"].isin(mild)]
    bad = mild_rows[mild_rows["delta_accuracy"] < -MILD_ACCURACY_DROP]
    finding = f"{table['model'].nunique()} models x {table['change'].nunique()} changes"
    if worst is not None:
        finding += f"; largest accuracy loss: {_describe(worst)}"
    if len(bad):
        pairs = ", ".join(
            f"{r.model} ({r.change}, {100 * r.delta_accuracy:+.0f} points)"
            for r in bad.sort_values("delta_accuracy").itertuples()
        )
        finding += f"; more than {100 * MILD_ACCURACY_DROP:.0f} points lost under a mild change: "
        finding += pairs
    elif len(mild_rows):
        finding += (
            f"; every model within {100 * MILD_ACCURACY_DROP:.0f} points under the mild "
            f"changes ({', '.join(c for c in mild if c in set(mild_rows['change']))})"
        )
    figure = accuracy_change_figure(scored, mild=mild, threshold=MILD_ACCURACY_DROP)
    return CheckResult(
        FAMILY,
        "degradation",
        "WARN" if len(bad) else "PASS",
        finding,
        evidence=change_table(table, mild=mild),
        action=ACTION if len(bad) else "",
        figures=[figure] if len(scored) else [],
    )


def _describe(row: pd.Series) -> str:
    return (
        f"{row['model']} under {row['change']}, accuracy {row['clean_accuracy']:.2f} -> "
        f"{row['accuracy']:.2f} ({100 * row['delta_accuracy']:+.0f} points), log loss "
        f"{row['clean_log_loss']:.3f} -> {row['log_loss']:.3f}"
    )


def failed_clips(failures: pd.DataFrame | None, table: pd.DataFrame) -> CheckResult:
    """Every (clip, change) the change or a feature failed on; WARN when there is one."""
    if failures is None:
        return skip(FAMILY, "failed_clips", f"no {IN_RUN.robustness_failures} in the run")
    if failures.empty:
        return CheckResult(
            FAMILY, "failed_clips", "PASS", "every change succeeded on every test clip"
        )
    per_change = failures.groupby("change", sort=False).size()
    counts = ", ".join(f"{change} {n}" for change, n in per_change.items())
    n_clips = int((table["n_clips"] + table["n_failed"]).max()) if len(table) else 0
    finding = (
        f"{len(failures)} (clip, change) pairs failed ({counts}) of {n_clips} test clips per "
        "change; each is left out of that change's scores, changed and clean"
    )
    return CheckResult(
        FAMILY,
        "failed_clips",
        "WARN",
        finding,
        evidence=failures.set_index(["key", "change"]),
        action="read the error of each; the cache keeps a failure, delete "
        "<cache_dir>/robustness/ to try again",
    )
