"""Results by artist: a model that misses one artist's clips as a whole, the same way, is named."""

import numpy as np
import pandas as pd

from harness.checks.runs.artists import artist_error_table
from harness.checks.runs.artists import from_run as artist_errors

CLASSES = np.array(["Folk", "Pop", "Rock"])
# 30 tracks; artist 9 has only 2 clips (too few to judge), the other six are judged
LAYOUT = [
    (7, "Folk", 5),
    (8, "Pop", 5),
    (10, "Rock", 5),
    (11, "Folk", 5),
    (12, "Pop", 5),
    (13, "Rock", 3),
    (9, "Rock", 2),
]
ARTIST_OF = np.concatenate([[a] * n for a, _, n in LAYOUT])
TRUTH = np.concatenate([[g] * n for _, g, n in LAYOUT])
KEYS = np.arange(100, 100 + len(TRUTH)).astype(str)
ARTISTS = pd.Series(ARTIST_OF, index=KEYS)


def _proba(predicted):
    return np.where(CLASSES[None, :] == np.asarray(predicted)[:, None], 0.8, 0.1)


def _miss(where, labels):
    predicted = TRUTH.copy()
    predicted[where] = labels
    return predicted


def _preds(**predicted_by_model):
    return {
        name: {"keys": KEYS, "y_true": TRUTH, "classes": CLASSES, "proba": _proba(predicted)}
        for name, predicted in predicted_by_model.items()
    }


def test_flags_an_artist_missed_as_a_whole_the_same_way():
    artist_7, artist_9 = np.flatnonzero(ARTIST_OF == 7), np.flatnonzero(ARTIST_OF == 9)
    shortcut = _miss(np.r_[artist_7, artist_9], ["Rock"] * 5 + ["Pop"] * 2)
    firsts = [ARTIST_OF.tolist().index(a) for a in (7, 8, 10, 11, 12)]
    three_each = np.r_[[np.arange(i, i + 3) for i in firsts]].ravel()
    weak = _miss(three_each, np.where(TRUTH[three_each] == "Rock", "Pop", "Rock"))
    table = artist_error_table(
        _preds(
            good=TRUTH,
            shortcut=shortcut,
            also=shortcut,
            scattered=_miss(firsts, "Rock"),  # one miss in each of five artists
            two_ways=_miss(artist_7[:4], ["Pop", "Pop", "Rock", "Rock"]),  # rare, but split
            small_artist=_miss(artist_9, "Pop"),  # 2 clips: too few to judge
            weak=weak,  # 3 of 5 wrong everywhere: what its 50% error rate predicts
            uniform=shortcut,  # reference rows are not judged
        ),
        ARTISTS,
        split="test",
    )
    columns = ["model", "artist", "genre", "clips", "wrong", "predicted as"]
    assert table[columns].values.tolist() == [
        ["shortcut", 7, "Folk", 5, 5, "Rock"],
        ["also", 7, "Folk", 5, 5, "Rock"],
    ]
    assert table["chance"].tolist() == [float(f"{(7 / 30) ** 5:.2g}")] * 2
    assert table["models also wrong"].tolist() == [1, 1]


def _save_run(run_dir, predicted, *, artist_column=True):
    model_dir = run_dir / "models" / "crnn"
    model_dir.mkdir(parents=True)
    np.savez_compressed(
        model_dir / "predictions_validation.npz",
        keys=KEYS,
        y_true=TRUTH,
        classes=CLASSES,
        proba=_proba(predicted),
        proba_calibrated=_proba(predicted),
    )
    splits = pd.DataFrame({"track_id": KEYS, "split": "validation"})
    if artist_column:
        splits["artist_id"] = ARTIST_OF
    splits.to_csv(run_dir / "splits.csv", index=False)


def test_check_names_the_artist_from_the_run_directory(tmp_path):
    _save_run(tmp_path, _miss(ARTIST_OF == 8, "Rock"))
    result = artist_errors(tmp_path)
    assert result.verdict == "WARN"
    assert result.finding == (
        "crnn on artist 8 (Pop, validation): 5/5 wrong, mostly as Rock (chance 0.00013)"
    )
    assert "mixup" in result.action


def test_check_names_an_artist_given_by_name(tmp_path):
    """A manifest's artists are names, not FMA ids (the check used to stop the report)."""
    _save_run(tmp_path, _miss(ARTIST_OF == 8, "Rock"))
    splits = pd.read_csv(tmp_path / "splits.csv")
    splits["artist_id"] = [f"Artist {a}" for a in splits["artist_id"]]
    splits.to_csv(tmp_path / "splits.csv", index=False)
    result = artist_errors(tmp_path)
    assert result.verdict == "WARN" and "on artist Artist 8 (Pop, validation)" in result.finding


def test_check_passes_without_concentrated_errors_and_skips_old_runs(tmp_path):
    predicted = _miss([0, 5, 10], "Pop")
    _save_run(tmp_path / "scattered", predicted)
    assert artist_errors(tmp_path / "scattered").verdict == "PASS"
    _save_run(tmp_path / "old", predicted, artist_column=False)
    assert artist_errors(tmp_path / "old").verdict == "SKIP"
