"""Results by artist: a model that misses most clips of one artist the same way is flagged."""

import numpy as np
import pandas as pd

from harness.checks.artists import artist_error_table, artist_errors

CLASSES = np.array(["Folk", "Pop", "Rock"])
# 10 test tracks: artist 7 has 4 Folk clips, artist 8 has 4 Pop clips, artist 9 has 2 Rock clips
KEYS = np.arange(100, 110).astype(str)
ARTISTS = pd.Series([7] * 4 + [8] * 4 + [9] * 2, index=KEYS)
TRUTH = np.array(["Folk"] * 4 + ["Pop"] * 4 + ["Rock"] * 2)


def _proba(predicted):
    return np.where(CLASSES[None, :] == np.asarray(predicted)[:, None], 0.8, 0.1)


def _preds(**predicted_by_model):
    return {
        name: {"keys": KEYS, "y_true": TRUTH, "classes": CLASSES, "proba": _proba(predicted)}
        for name, predicted in predicted_by_model.items()
    }


def test_flags_an_artist_missed_as_a_whole_and_counts_models_alike():
    right = TRUTH.copy()
    shortcut = TRUTH.copy()
    shortcut[:3] = "Rock"  # 3 of artist 7's 4 Folk clips
    shortcut[8:] = "Pop"  # both clips of artist 9: too few clips to judge
    scattered = TRUTH.copy()
    scattered[[0, 4]] = "Rock"  # one clip each of artists 7 and 8
    table = artist_error_table(
        _preds(good=right, shortcut=shortcut, also=shortcut, scattered=scattered, uniform=shortcut),
        ARTISTS,
        split="test",
    )
    assert table[
        ["model", "artist", "genre", "clips", "wrong", "predicted as"]
    ].values.tolist() == [
        ["shortcut", 7, "Folk", 4, 3, "Rock"],
        ["also", 7, "Folk", 4, 3, "Rock"],
    ]
    assert table["models also wrong"].tolist() == [1, 1]


def _save_run(run_dir, predicted, *, artist_column=True):
    model_dir = run_dir / "models" / "crnn"
    model_dir.mkdir(parents=True)
    np.savez_compressed(
        model_dir / "predictions_validation.npz", keys=KEYS, y_true=TRUTH, classes=CLASSES,
        proba=_proba(predicted), proba_calibrated=_proba(predicted),
    )  # fmt: skip
    splits = pd.DataFrame({"track_id": KEYS, "split": "validation"})
    if artist_column:
        splits["artist_id"] = ARTISTS.to_numpy()
    splits.to_csv(run_dir / "splits.csv", index=False)


def test_check_names_the_artist_from_the_run_directory(tmp_path):
    predicted = TRUTH.copy()
    predicted[4:8] = "Rock"  # all of artist 8
    _save_run(tmp_path, predicted)
    result = artist_errors(tmp_path)
    assert result.verdict == "WARN"
    assert result.finding == "crnn on artist 8 (Pop, validation): 4/4 wrong, mostly as Rock"
    assert "mixup" in result.action


def test_check_passes_without_concentrated_errors_and_skips_old_runs(tmp_path):
    predicted = TRUTH.copy()
    predicted[[0, 4]] = "Rock"
    _save_run(tmp_path / "scattered", predicted)
    assert artist_errors(tmp_path / "scattered").verdict == "PASS"
    _save_run(tmp_path / "old", predicted, artist_column=False)
    assert artist_errors(tmp_path / "old").verdict == "SKIP"
