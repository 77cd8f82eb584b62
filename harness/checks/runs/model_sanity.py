"""Model sanity: render the quick checks each neural model ran during a run.

A run stores, for each neural model, ``models/<name>/sanity.json``: a list of dicts
``{name, passed, value, expected, detail}`` (see :mod:`harness.training.sanity`: init_loss,
gradients, overfit_batch, shuffled_labels, finite). This module turns each model's list into one
:class:`CheckResult`, and adds the train/validation gap at the end of training from
``history.csv`` (columns train_loss, val_log_loss per epoch).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.checks.base import CheckResult
from harness.run_layout import RunLayout

FAMILY = "model sanity"
# A final validation loss more than this many times the training loss suggests overfitting.
MAX_GAP_RATIO = 2.0

ACTIONS = {
    "init_loss": "the output layer does not start near uniform: check its initialisation and "
    "that the loss receives logits, not probabilities",
    "gradients": "some layers get no or non-finite gradients: check detached tensors, frozen "
    "layers and the learning rate",
    "overfit_batch": "the model cannot memorise one batch: check the labels, the loss and the "
    "optimiser wiring before anything else",
    "shuffled_labels": "the model beats chance on shuffled labels: validation leaks into "
    "training or the labels are predictable from something else (file order, ids)",
    "finite": "NaN/inf in weights or loss: lower the learning rate, clip gradients, check the "
    "input scaling",
}


def sanity_result(model: str, checks: list[dict]) -> CheckResult:
    """One model's sanity checks as a CheckResult (FAIL if any check did not pass)."""
    table = pd.DataFrame(
        {
            "check": [c.get("name", "?") for c in checks],
            "passed": [_passed_text(c.get("passed")) for c in checks],
            "value": [c.get("value") for c in checks],
            "expected": [_text(c.get("expected")) for c in checks],
            "detail": [c.get("detail", "") for c in checks],
        }
    )
    failed = [c.get("name", "?") for c in checks if c.get("passed") is False]
    unknown = [c.get("name", "?") for c in checks if c.get("passed") is None]
    if not checks:
        return CheckResult(FAMILY, model, "SKIP", "the model stored no sanity checks")
    if failed:
        return CheckResult(
            FAMILY,
            model,
            "FAIL",
            f"{len(failed)} of {len(checks)} sanity checks fail: {', '.join(failed)}",
            evidence=table,
            action=" ".join(ACTIONS.get(n, "") for n in failed).strip()
            or "inspect the failing checks",
        )
    verdict = "WARN" if unknown else "PASS"
    finding = f"all {len(checks) - len(unknown)} sanity checks pass"
    if unknown:
        finding += f"; not run: {', '.join(unknown)}"
    return CheckResult(FAMILY, model, verdict, finding, evidence=table)


def _passed_text(passed: object) -> str:
    return {True: "PASS", False: "FAIL"}.get(passed, "SKIP")  # type: ignore[arg-type]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def gap_result(model: str, history: pd.DataFrame) -> CheckResult | None:
    """Train/validation loss gap at the last epoch, or None without the needed columns."""
    if not {"train_loss", "val_log_loss"} <= set(history.columns) or history.empty:
        return None
    last = history.dropna(subset=["train_loss", "val_log_loss"]).tail(1)
    if last.empty:
        return None
    train, val = float(last["train_loss"].iloc[0]), float(last["val_log_loss"].iloc[0])
    best = float(history["val_log_loss"].min())
    ratio = val / train if train > 0 else float("inf")
    evidence = {
        "epochs": len(history),
        "final train loss": round(train, 4),
        "final validation log loss": round(val, 4),
        "best validation log loss": round(best, 4),
        "ratio": round(ratio, 2),
    }
    verdict = "WARN" if ratio > MAX_GAP_RATIO else "PASS"
    return CheckResult(
        FAMILY,
        f"{model}_train_val_gap",
        verdict,
        f"{model}: final training loss {train:.3f}, validation log loss {val:.3f} "
        f"(x{ratio:.2f}; best validation {best:.3f})",
        evidence=evidence,
        action="overfitting: more augmentation or regularisation, or early stopping on "
        "validation log loss"
        if verdict == "WARN"
        else "",
    )


def from_run(run_dir: Path) -> list[CheckResult]:
    """Results for every ``models/<name>/sanity.json`` (and history gap) under a run directory."""
    results = []
    for folder in RunLayout(Path(run_dir)).model_folders():
        if folder.sanity.exists():
            checks = json.loads(folder.sanity.read_text("utf-8"))
            results.append(sanity_result(folder.name, list(checks)))
        if folder.history.exists():
            gap = gap_result(folder.name, pd.read_csv(folder.history))
            if gap is not None:
                results.append(gap)
    return results
