"""Scoring a model's logits: clips of digital silence get the training prior, not a guess."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.data.layout import FmaLayout
from harness.data.prepared import PreparedData, training_prior
from harness.features.extracted import ExtractedFeatures, silent_keys, usable_keys
from harness.scoring.groups import score_groups

CLASSES = ["Pop", "Rock"]


def _data(task: str = "genre_top") -> PreparedData:
    keys = pd.Index(list(range(10)), dtype=object)
    groups = ["training"] * 4 + ["validation"] * 3 + ["test"] * 3
    genre = ["Rock", "Rock", "Rock", "Pop", "Pop", "Rock", "Pop", "Rock", "Pop", "Rock"]
    labels = pd.Series(genre, index=keys)
    if task == "genres_all":
        labels = pd.get_dummies(labels).astype(np.int8)[CLASSES]
    return PreparedData(
        layout=FmaLayout(Path(".")),
        subset="small",
        task=task,
        tracks=pd.DataFrame(index=keys),
        splits=pd.Series(groups, index=keys),
        labels=labels,
        classes=CLASSES,
        clips=pd.DataFrame({"path": "", "group": groups}, index=keys),
    )


def _features(status: dict[int, str]) -> ExtractedFeatures:
    table = pd.DataFrame({"status": [status.get(k, "ok") for k in range(10)]}, index=range(10))
    return ExtractedFeatures(status=table, cache_dir=".", logmel=None)


def test_silent_clips_are_neither_seen_nor_guessed():
    data = _data()
    features = _features({3: "silent", 6: "silent", 9: "corrupt", 8: "short"})
    assert list(usable_keys(data, features, "training")) == [0, 1, 2]
    assert list(usable_keys(data, features, "training", silent=True)) == [0, 1, 2, 3]
    assert list(usable_keys(data, features, "test")) == [7, 8]
    assert list(silent_keys(data, features, "validation")) == [6]
    # 3 Rock, 1 Pop in training: the silent training clip still counts for the prior
    np.testing.assert_allclose(training_prior(data), [0.25, 0.75])

    # the model is confidently Pop on what it sees; the silent clip 5 (Rock) is not seen
    features = _features({5: "silent"})
    confident_pop = np.array([[5.0, -5.0], [5.0, -5.0]])
    logits = {"validation": (usable_keys(data, features, "validation"), confident_pop)}
    row, predictions = score_groups(
        data,
        logits,
        classes=CLASSES,
        task="genre_top",
        calibrate=False,
        no_signal={"validation": silent_keys(data, features, "validation")},
    )
    val = predictions["validation"]
    assert val["keys"].tolist() == ["4", "5", "6"]  # the split's order, as for every model
    np.testing.assert_allclose(val["proba"][1], [0.25, 0.75])
    np.testing.assert_allclose(val["proba_calibrated"][1], [0.25, 0.75])
    p_pop = 1 / (1 + np.exp(-10.0))  # softmax of (5, -5)
    np.testing.assert_allclose(val["proba"][[0, 2], 0], p_pop)
    expected = -np.mean([np.log(p_pop), np.log(0.75), np.log(p_pop)])  # Pop, Rock, Pop
    assert row["val_log_loss"] == pytest.approx(expected, abs=1e-4)


def test_a_group_of_silent_clips_alone_is_still_predicted():
    data = _data()
    logits = {"validation": (pd.Index([4, 5, 6], dtype=object), np.zeros((3, 2)))}
    _, predictions = score_groups(
        data,
        logits,
        classes=CLASSES,
        task="genre_top",
        no_signal={"test": pd.Index([7, 8, 9], dtype=object)},
    )
    np.testing.assert_allclose(predictions["test"]["proba"], np.tile([0.25, 0.75], (3, 1)))


def test_multilabel_prior_is_the_tag_rate():
    data = _data("genres_all")
    np.testing.assert_allclose(training_prior(data), [0.25, 0.75])
    logits = {"validation": (pd.Index([4, 5], dtype=object), np.zeros((2, 2)))}
    _, predictions = score_groups(
        data,
        logits,
        classes=CLASSES,
        task="genres_all",
        no_signal={"validation": pd.Index([6], dtype=object)},
    )
    np.testing.assert_allclose(predictions["validation"]["proba"][2], [0.25, 0.75])


def _tagging_data(val_genres: str, test_genres: str) -> PreparedData:
    """Multi-label data: 4 training tracks, then one validation / test track per letter
    (P: Pop, R: Rock)."""
    genre = ["Rock", "Rock", "Rock", "Pop"]
    genre += [{"P": "Pop", "R": "Rock"}[g] for g in val_genres + test_genres]
    keys = pd.Index(list(range(len(genre))), dtype=object)
    groups = ["training"] * 4 + ["validation"] * len(val_genres) + ["test"] * len(test_genres)
    labels = pd.get_dummies(pd.Series(genre, index=keys)).astype(np.int8)[CLASSES]
    return PreparedData(
        layout=FmaLayout(Path(".")),
        subset="small",
        task="genres_all",
        tracks=pd.DataFrame(index=keys),
        splits=pd.Series(groups, index=keys),
        labels=labels,
        classes=CLASSES,
        clips=pd.DataFrame({"path": "", "group": groups}, index=keys),
    )


def test_multilabel_row_has_every_tagging_metric_and_tuned_thresholds():
    data = _tagging_data("PRPRPRR", "RPR")
    val_keys, test_keys = data.keys("validation"), data.keys("test")
    # Pop's log-odds rank the Pop tracks first, but all below 0: F1 at 0.5 is 0 for Pop, a
    # threshold tuned on validation (three Pop tracks) finds them; Rock is right at 0.5
    pop = np.array([-1.0, -3.0, -1.5, -3.0, -1.2, -3.5, -2.5])
    val = np.column_stack([pop, np.where(pop < -2, 2.0, -2.0)])
    test = np.array([[-3.0, 2.0], [-1.2, -2.0], [-2.5, 2.5]])
    logits = {"validation": (val_keys, val), "test": (test_keys, test)}
    row, predictions = score_groups(data, logits, classes=CLASSES, task="genres_all")
    for prefix in ("val", "test"):
        for name in (
            "roc_auc_macro",
            "roc_auc_micro",
            "pr_auc_macro",
            "f1_macro_at_0.5",
            "f1_micro_at_0.5",
            "f1_macro_tuned",
            "f1_micro_tuned",
            "bce",
            "bce_calibrated",
        ):
            assert f"{prefix}_{name}" in row, (prefix, name)
    assert row["test_roc_auc_macro"] == 1.0 and row["test_pr_auc_macro"] == 1.0
    thresholds = predictions["test"]["thresholds"]
    assert thresholds[0] == pytest.approx(1 / (1 + np.exp(1.5)))  # lowest Pop score of Pop
    assert row["test_f1_macro_tuned"] == 1.0 and row["test_f1_macro_at_0.5"] == 0.5
    # three Pop and four Rock validation tracks: both genres calibrated; Rock's logits have
    # the right sign on every track (separable), so its temperature stays 1
    assert row["calibrated_genres"] == 2 and "temperature on 2 of 2 genres" in row["notes"]
    temperatures = predictions["test"]["temperatures"]
    assert temperatures[0] != 1.0 and temperatures[1] == 1.0
    np.testing.assert_allclose(predictions["test"]["proba"], 1 / (1 + np.exp(-test)))
    calibrated = predictions["test"]["proba_calibrated"]
    np.testing.assert_allclose(calibrated, 1 / (1 + np.exp(-test / temperatures)))


def test_multilabel_thresholds_and_temperatures_need_three_validation_tracks():
    data = _tagging_data("PPRRR", "PR")  # two Pop tracks: Pop keeps 0.5 and T = 1
    logits = {"validation": (data.keys("validation"), np.zeros((5, 2)) - 1.0)}
    row, predictions = score_groups(data, logits, classes=CLASSES, task="genres_all")
    thresholds = predictions["validation"]["thresholds"]
    assert thresholds[0] == 0.5 and thresholds[1] == pytest.approx(1 / (1 + np.e))
    assert row["calibrated_genres"] == 0 and row["notes"].startswith("calibration skipped")


def test_multilabel_reference_rows_are_not_calibrated():
    data = _data("genres_all")
    logits = {"validation": (pd.Index([4, 5, 6], dtype=object), np.zeros((3, 2)))}
    row, _ = score_groups(data, logits, classes=CLASSES, task="genres_all", calibrate=False)
    assert row["notes"] == "reference row: not calibrated"
    assert row["val_roc_auc_macro"] == 0.5
    assert row["val_bce"] == pytest.approx(np.log(2), abs=1e-4)
