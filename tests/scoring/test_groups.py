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
        data, logits, classes=CLASSES, task="genre_top", calibrate=False,
        no_signal={"validation": silent_keys(data, features, "validation")},
    )  # fmt: skip
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
        data, logits, classes=CLASSES, task="genre_top",
        no_signal={"test": pd.Index([7, 8, 9], dtype=object)},
    )  # fmt: skip
    np.testing.assert_allclose(predictions["test"]["proba"], np.tile([0.25, 0.75], (3, 1)))


def test_multilabel_prior_is_the_tag_rate():
    data = _data("genres_all")
    np.testing.assert_allclose(training_prior(data), [0.25, 0.75])
    logits = {"validation": (pd.Index([4, 5], dtype=object), np.zeros((2, 2)))}
    _, predictions = score_groups(
        data, logits, classes=CLASSES, task="genres_all",
        no_signal={"validation": pd.Index([6], dtype=object)},
    )  # fmt: skip
    np.testing.assert_allclose(predictions["validation"]["proba"][2], [0.25, 0.75])
