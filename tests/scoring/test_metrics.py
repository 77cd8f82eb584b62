"""Challenge and tagging metrics: committed references, scikit-learn cross-checks, validation."""

import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import ParameterError
from harness.scoring import metrics
from harness.scoring.metrics.single import DegenerateInputWarning

REFERENCE = Path(__file__).parent / "metrics_reference"
LABELS = ["a", "b", "c", "d", "e"]
ML_LABELS = ["x", "y", "z"]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        return fn(*args, **kwargs)


def _random_case(seed, *, n_classes=None):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(20, 150)), n_classes or int(rng.integers(3, 9))
    labels = [f"g{i}" for i in range(c)]
    y = list(rng.choice(labels, size=n))
    p = rng.dirichlet(np.ones(c), size=n)
    return y, p, labels


@pytest.fixture(scope="module")
def reference():
    with open(REFERENCE / "single_label.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    y = [r[0] for r in rows[1:]]
    p = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    with open(REFERENCE / "multilabel.csv", newline="") as fh:
        ml = list(csv.DictReader(fh))
    split = np.array([r["split"] for r in ml])
    yml = np.array([[int(r[f"y_{c}"]) for c in ML_LABELS] for r in ml])
    s = np.array([[float(r[f"s_{c}"]) for c in ML_LABELS] for r in ml])
    expected = json.loads((REFERENCE / "expected.json").read_text())
    return y, p, split, yml, s, expected


# --- committed reference outputs (mir_eval style) ----------------------------------------


def test_evaluate_matches_committed_reference(reference):
    y, p, *_, expected = reference
    with pytest.warns(DegenerateInputWarning, match="never occur in y_true: e"):
        result = metrics.evaluate(y, p, labels=LABELS)
    assert list(result) == list(metrics.EVALUATE_KEYS) == list(expected["evaluate"])
    assert result == pytest.approx(expected["evaluate"], rel=1e-12)


def test_helpers_match_committed_reference(reference):
    y, p, *_, expected = reference
    kw = {"labels": LABELS}
    assert _quiet(metrics.confusion_matrix, y, p, **kw).tolist() == expected["confusion_matrix"]
    table = _quiet(metrics.per_class_table, y, p, **kw)
    assert list(table.columns) == list(expected["per_class"])
    for column, values in expected["per_class"].items():  # JSON null = NaN (0/0)
        want = [math.nan if v is None else v for v in values]
        assert table[column].tolist() == pytest.approx(want, rel=1e-12, nan_ok=True), column
    assert _quiet(metrics.macro_f1, y, p, absent=0.0, **kw) == pytest.approx(
        expected["macro_f1_absent_0"], rel=1e-12
    )
    assert _quiet(metrics.macro_f1, y, p, absent=1.0, **kw) == pytest.approx(
        expected["macro_f1_absent_1"], rel=1e-12
    )
    ci = metrics.bootstrap_ci(metrics.log_loss, y, p, n_boot=200, seed=0, **kw)
    assert list(ci) == pytest.approx(expected["log_loss_ci_200_seed0"], rel=1e-12)


def test_multilabel_matches_committed_reference(reference):
    _, _, split, yml, s, expected = reference
    val, test = split == "validation", split == "test"
    th = _quiet(metrics.tune_thresholds, yml[val], s[val], labels=ML_LABELS)
    assert th.tolist() == pytest.approx(expected["thresholds"], rel=1e-12)
    result = _quiet(
        metrics.evaluate_multilabel, yml[test], s[test], labels=ML_LABELS, thresholds=th
    )
    assert list(result) == list(metrics.EVALUATE_MULTILABEL_KEYS)
    assert result == pytest.approx(expected["evaluate_multilabel"], rel=1e-12)


# --- the challenge's conventions ---------------------------------------------------------


def test_uniform_scores_exactly_ln16():
    y = list(CHALLENGE_GENRES) * 3
    proba = np.full((len(y), 16), 1 / 16)
    assert metrics.log_loss(y, proba, labels=CHALLENGE_GENRES) == math.log(16)
    unnormalised = np.full((len(y), 16), 7.0, dtype=np.float32)  # renormalised in float64
    assert metrics.log_loss(y, unnormalised, labels=CHALLENGE_GENRES) == math.log(16)


@pytest.mark.filterwarnings("ignore::harness.scoring.metrics.single.DegenerateInputWarning")
def test_log_loss_renormalises_then_clips():
    labels = ["a", "b"]
    assert metrics.log_loss(["a"], [[0.0, 3.0]], labels=labels) == pytest.approx(-math.log(1e-15))
    assert metrics.log_loss(["a"], [[5.0, 0.0]], labels=labels) == -math.log(1 - 1e-15)
    assert metrics.log_loss(["a", "b"], [[3, 1], [1, 1]], labels=labels) == pytest.approx(
        -(math.log(0.75) + math.log(0.5)) / 2
    )


def test_float32_input_scores_in_float64():
    y, p, labels = _random_case(3)
    p32 = p.astype(np.float32)
    p64 = p32.astype(np.float64)
    expected = skm.log_loss(y, p64 / p64.sum(axis=1, keepdims=True), labels=labels)
    assert _quiet(metrics.log_loss, y, p32, labels=labels) == pytest.approx(expected, rel=1e-13)


def test_macro_f1_absent_class_conventions():
    labels = ["a", "b", "c"]  # "c" is never true and never predicted
    y = ["a", "a", "b", "b"]
    p = [[0.9, 0.1, 0], [0.2, 0.8, 0], [0.1, 0.9, 0], [0.6, 0.4, 0]]
    f1_a = f1_b = 0.5
    assert _quiet(metrics.macro_f1, y, p, labels=labels) == (f1_a + f1_b) / 2
    assert _quiet(metrics.macro_f1, y, p, labels=labels, absent=0.0) == pytest.approx(1 / 3)
    assert _quiet(metrics.macro_f1, y, p, labels=labels, absent=1.0) == pytest.approx(2 / 3)


def test_ties_go_to_the_first_column_and_top1_is_accuracy():
    labels = ["a", "b", "c", "d"]
    p = np.full((4, 4), 0.25)
    assert metrics.predict(p, labels=labels).tolist() == ["a"] * 4
    y = labels
    assert metrics.accuracy(y, p, labels=labels) == 0.25
    assert metrics.top_k_accuracy(y, p, labels=labels, k=1) == 0.25
    assert metrics.top3_accuracy(y, p, labels=labels) == 0.75  # a, b, c among the top 3


def test_ece_by_hand():
    labels = ["a", "b"]
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right): bins (13/15, 14/15] and (8/15, 9/15]
    p = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]]
    y = ["a", "b", "a"]
    expected = (2 / 3) * abs(0.5 - 0.9) + (1 / 3) * abs(1.0 - 0.6)
    assert _quiet(metrics.expected_calibration_error, y, p, labels=labels) == pytest.approx(
        expected
    )
    assert metrics.expected_calibration_error(["a", "b"], [[1, 0], [0, 1]], labels=labels) == 0


def test_per_class_table_has_nan_where_undefined():
    table = _quiet(metrics.per_class_table, ["a", "a"], [[1, 0, 0], [0, 1, 0]], labels="abc")
    assert list(table.columns) == ["precision", "recall", "f1", "support", "predicted"]
    assert table.loc["a", "precision"] == 1.0 and table.loc["a", "recall"] == 0.5
    assert table.loc["b", "precision"] == 0.0 and np.isnan(table.loc["b", "recall"])
    assert table.loc["c"].isna()[["precision", "recall", "f1"]].all()
    assert table["support"].tolist() == [2, 0, 0]


# --- scikit-learn cross-checks -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_single_label_matches_sklearn(seed):
    y, p, labels = _random_case(seed)
    pred = np.asarray(labels)[p.argmax(axis=1)]
    kw = {"labels": labels}
    assert _quiet(metrics.log_loss, y, p, **kw) == pytest.approx(skm.log_loss(y, p, **kw))
    assert _quiet(metrics.macro_f1, y, p, **kw) == pytest.approx(
        skm.f1_score(y, pred, average="macro")
    )
    for zd in (0.0, 1.0):
        assert _quiet(metrics.macro_f1, y, p, absent=zd, **kw) == pytest.approx(
            skm.f1_score(y, pred, average="macro", zero_division=zd, **kw)
        )
    assert _quiet(metrics.accuracy, y, p, **kw) == pytest.approx(skm.accuracy_score(y, pred))
    assert _quiet(metrics.confusion_matrix, y, p, **kw).tolist() == (
        skm.confusion_matrix(y, pred, **kw).tolist()
    )
    table = _quiet(metrics.per_class_table, y, p, **kw)
    sk_p, sk_r, sk_f, sk_s = skm.precision_recall_fscore_support(
        y, pred, zero_division=np.nan, **kw
    )
    np.testing.assert_allclose(table["precision"], sk_p, equal_nan=True)
    np.testing.assert_allclose(table["recall"], sk_r, equal_nan=True)
    assert table["support"].tolist() == sk_s.tolist()
    if len(set(y)) == len(labels) > 3:  # sklearn needs every class present, k < n_classes
        assert metrics.top3_accuracy(y, p, **kw) == pytest.approx(
            skm.top_k_accuracy_score(y, p, k=3, **kw)
        )


@pytest.mark.parametrize("seed", range(6))
def test_multilabel_matches_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(30, 120))
    y = (rng.random((n, 4)) < [0.5, 0.3, 0.2, 0.1]).astype(int)
    y[:2] = [[1, 1, 1, 1], [0, 0, 0, 0]]  # every class has positives and negatives
    s = np.round(0.3 * y + 0.7 * rng.random((n, 4)), 2)  # rounding makes ties
    labels = list("pqrs")
    assert metrics.roc_auc_macro(y, s, labels=labels) == pytest.approx(
        skm.roc_auc_score(y, s, average="macro")
    )
    assert metrics.roc_auc_micro(y, s, labels=labels) == pytest.approx(
        skm.roc_auc_score(y, s, average="micro")
    )
    assert metrics.average_precision_macro(y, s, labels=labels) == pytest.approx(
        skm.average_precision_score(y, s, average="macro")
    )
    pred = (s >= 0.5).astype(int)
    for avg in ("macro", "micro"):
        assert metrics.f1_at_thresholds(y, s, labels=labels, average=avg) == pytest.approx(
            skm.f1_score(y, pred, average=avg)
        )


def test_tuned_thresholds_are_the_best_on_validation_and_beat_half():
    rng = np.random.default_rng(7)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    s = np.clip(0.15 * y + 0.3 * rng.random((200, 3)), 0, 1)  # all scores below 0.5
    labels = list("xyz")
    th = metrics.tune_thresholds(y, s, labels=labels)
    for c in range(3):
        best = max(skm.f1_score(y[:, c], s[:, c] >= t) for t in np.unique(s[:, c]))
        assert skm.f1_score(y[:, c], s[:, c] >= th[c]) == pytest.approx(best)
    tuned = metrics.f1_at_thresholds(y, s, labels=labels, thresholds=th)
    assert tuned > metrics.f1_at_thresholds(y, s, labels=labels) == 0.0
    assert metrics.apply_thresholds(s, th).tolist() == (s >= th).astype(int).tolist()


def test_multilabel_class_without_positives_warns_and_keeps_default_threshold():
    y = np.array([[1, 0], [0, 0], [1, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.2]])
    with pytest.warns(DegenerateInputWarning, match="no positive track"):
        th = metrics.tune_thresholds(y, s, labels=["x", "y"])
    assert th[1] == 0.5
    with pytest.warns(DegenerateInputWarning):
        assert metrics.roc_auc_macro(y, s, labels=["x", "y"]) == 1.0  # "y" left out


# --- validate() --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        (["a", "b"], [[0.5, 0.5]], "y_true has 2 rows but proba has 1"),
        (["a"], [[0.2, 0.3, 0.5]], "3 columns but labels has 2"),
        (["a"], [0.5, 0.5], "must be 2-D"),
        (["a", "b", "q"], [[1, 0], [0, 1], [1, 0]], "y_true row 2 is 'q'"),
        (["a", "b"], [[0.5, 0.5], [np.nan, 1]], "proba row 1, column 0 is nan"),
        (["a", "b"], [[0.5, np.inf], [0, 1]], "proba row 0, column 1 is inf"),
        (["a", "b"], [[0.5, 0.5], [1.1, -0.1]], "proba row 1, column 1 is -0.1"),
        (["a", "b", "a"], [[0.5, 0.5], [0.5, 0.5], [0, 0]], "proba row 2 is all zeros"),
        (["a"], [["x", "y"]], "must hold numbers"),
    ],
)
def test_validate_names_the_bad_row(y, p, match):
    with pytest.raises(ParameterError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        metrics.validate(y, p, ["a", "b"])


def test_validate_rejects_repeated_labels_and_is_a_value_error():
    with pytest.raises(ValueError, match="'a' twice"):
        metrics.validate(["a"], [[1, 0]], ["a", "a"])


def test_validate_warns_on_a_class_never_present():
    with pytest.warns(DegenerateInputWarning, match="1 of 3 classes never occur in y_true: c"):
        y_idx, p = metrics.validate(["a", "b"], [[2, 1, 1], [0, 1, 0]], ["a", "b", "c"])
    assert y_idx.tolist() == [0, 1] and p.dtype == np.float64
    assert p[0].tolist() == [0.5, 0.25, 0.25]


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([[1, 2]], [[0.5, 0.5]], "y_true row 0, column 1 is 2.0; expected 0 or 1"),
        ([[1, 0]], [[0.5, 1.5]], "scores row 0, column 1 is 1.5"),
        ([[1, 0], [0, 1]], [[0.5, 0.5]], "y_true has 2 rows but scores has 1"),
        ([[1, 0]], [[np.nan, 0.5]], "scores row 0, column 0 is nan"),
    ],
)
def test_validate_multilabel_names_the_bad_row(y, s, match):
    with pytest.raises(ParameterError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        metrics.validate_multilabel(y, s, ["x", "y"])


# --- bootstrap ---------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    y, p, labels = _random_case(11, n_classes=4)
    kw = {"labels": labels, "n_boot": 300}
    first = metrics.bootstrap_ci(metrics.log_loss, y, p, seed=5, **kw)
    assert first == metrics.bootstrap_ci(metrics.log_loss, y, p, seed=5, **kw)
    assert first != metrics.bootstrap_ci(metrics.log_loss, y, p, seed=6, **kw)
    assert first[0] < metrics.log_loss(y, p, labels=labels) < first[1]
    low, high = metrics.bootstrap_ci(metrics.accuracy, y, p, seed=5, **kw)
    assert 0 <= low <= high <= 1


def test_bootstrap_works_for_multilabel_metrics():
    rng = np.random.default_rng(2)
    y = (rng.random((80, 3)) < 0.4).astype(int)
    s = np.clip(0.4 * y + 0.6 * rng.random((80, 3)), 0, 1)
    low, high = metrics.bootstrap_ci(
        metrics.roc_auc_macro, y, s, labels=list("xyz"), n_boot=100, seed=0
    )
    assert 0.5 < low < metrics.roc_auc_macro(y, s, labels=list("xyz")) < high <= 1


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ParameterError, match="n_boot"):
        metrics.bootstrap_ci(metrics.log_loss, ["a"], [[1.0]], labels=["a"], n_boot=0)
    with pytest.raises(ParameterError, match="1 rows but proba has 2"):
        metrics.bootstrap_ci(metrics.log_loss, ["a"], [[1.0], [1.0]], labels=["a"])


def test_per_class_aucs_and_binary_log_loss_match_sklearn():
    from harness.scoring.metrics.multilabel import (
        average_precision_per_class,
        binary_log_loss,
        roc_auc_per_class,
    )

    rng = np.random.default_rng(3)
    y = (rng.random((80, 3)) < [0.5, 0.2, 0.0]).astype(int)
    y[0, 1] = 1
    s = np.round(0.3 * y + 0.7 * rng.random((80, 3)), 2)
    labels = list("abc")
    with pytest.warns(DegenerateInputWarning):
        auc = roc_auc_per_class(y, s, labels=labels)
        ap = average_precision_per_class(y, s, labels=labels)
    for c in range(2):
        assert auc[c] == pytest.approx(skm.roc_auc_score(y[:, c], s[:, c]))
        assert ap[c] == pytest.approx(skm.average_precision_score(y[:, c], s[:, c]))
    assert np.isnan(auc[2]) and np.isnan(ap[2])  # no positive: undefined
    with pytest.warns(DegenerateInputWarning):
        bce = binary_log_loss(y, s, labels=labels)
    assert bce == pytest.approx(skm.log_loss(y.ravel(), s.ravel(), labels=[0, 1]))
    half = binary_log_loss([[1, 0], [0, 1]], [[0.5, 0.5], [0.5, 0.5]], labels=["a", "b"])
    assert half == pytest.approx(np.log(2))
