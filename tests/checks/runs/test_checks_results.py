"""Results checks: predictions lined up by track, paired comparison against mfcc-logreg."""

import numpy as np
import pytest

from harness.checks.runs.results import load_predictions, paired_comparison
from harness.errors import DataError
from harness.scoring import metrics

CLASSES = np.array(["Folk", "Pop", "Rock"])


def _save(run_dir, name, keys, y, proba):
    model_dir = run_dir / "models" / name
    model_dir.mkdir(parents=True)
    np.savez_compressed(
        model_dir / "predictions_test.npz",
        keys=np.asarray(keys).astype(str),
        y_true=y,
        classes=CLASSES,
        proba=proba,
        proba_calibrated=proba,
    )


def _predictions(rng, n, skill):
    y = rng.choice(CLASSES, size=n)
    onehot = (y[:, None] == CLASSES[None, :]).astype(float)
    return y, skill * onehot + (1 - skill) * rng.dirichlet(np.ones(3), size=n)


def test_models_are_lined_up_by_track(tmp_path):
    rng = np.random.default_rng(0)
    y, proba = _predictions(rng, 20, 0.5)
    _save(tmp_path, "a-first", np.arange(20), y, proba)
    order = rng.permutation(20)
    _save(tmp_path, "b-shuffled", order, y[order], proba[order])
    preds = load_predictions(tmp_path, split="test")
    np.testing.assert_array_equal(preds["b-shuffled"]["y_true"], y)
    np.testing.assert_allclose(preds["b-shuffled"]["proba"], proba)

    _save(tmp_path, "c-other", np.arange(1, 21), y, proba)
    with pytest.raises(DataError, match="c-other.*scores other test tracks than a-first"):
        load_predictions(tmp_path, split="test")


def test_paired_bootstrap_sees_what_separate_intervals_hide():
    rng = np.random.default_rng(1)
    y, base = _predictions(rng, 40, 0.3)
    # b is a on every track but four, where b moves weight to the true class: always better
    better = base.copy()
    onehot = (y[:, None] == CLASSES[None, :]).astype(float)
    better[:4] = 0.5 * better[:4] + 0.5 * onehot[:4]
    result = metrics.paired_bootstrap(
        metrics.log_loss, y, better, base, higher_is_better=False, n_boot=200, labels=CLASSES
    )
    assert result["difference"] < 0 and result["high"] <= 0
    assert result["a_better"] > 0.95  # resamples without any of the 4 tracks are ties
    low, high = metrics.bootstrap_ci(metrics.log_loss, y, base, n_boot=200, labels=CLASSES)
    assert low < metrics.log_loss(y, better, labels=CLASSES) < high  # unpaired: overlapping
    same = metrics.paired_bootstrap(
        metrics.macro_f1, y, base, base, higher_is_better=True, n_boot=50, labels=CLASSES
    )
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "a_better": 0.0, "a_worse": 0.0}


def test_paired_comparison_names_clear_winners_and_noise(tmp_path):
    rng = np.random.default_rng(2)
    y, base = _predictions(rng, 60, 0.4)
    onehot = (y[:, None] == CLASSES[None, :]).astype(float)
    # twin: right on 3 tracks mfcc-logreg gets wrong, wrong on 3 it gets right
    right = base.argmax(axis=1) == onehot.argmax(axis=1)
    fixed, broken = np.flatnonzero(~right)[:3], np.flatnonzero(right)[:3]
    twin = base.copy()
    twin[fixed] = 0.6 * onehot[fixed] + 0.4 / 3
    twin[broken] = 0.6 * np.roll(onehot[broken], 1, axis=1) + 0.4 / 3
    preds = {
        "mfcc-logreg": {"y_true": y, "classes": CLASSES, "proba": base},
        "strong": {"y_true": y, "classes": CLASSES, "proba": 0.5 * base + 0.5 * onehot},
        "twin": {"y_true": y, "classes": CLASSES, "proba": twin},
        "uniform": {"y_true": y, "classes": CLASSES, "proba": np.full((60, 3), 1 / 3)},
    }
    result = paired_comparison(preds, split="test", n_boot=100)
    assert result.verdict == "PASS"
    assert "clearly better on log loss and macro F1: strong" in result.finding
    assert "not distinguishable on this split: twin" in result.finding
    assert list(result.evidence["model"]) == ["strong", "twin"]  # references are left out
    assert "twin" in result.action
    skipped = paired_comparison({"cnn": preds["strong"]}, split="test")
    assert skipped.verdict == "SKIP"
