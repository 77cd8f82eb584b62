"""Tagging checks: per-genre scores, dropped genres, co-occurrence and hierarchy of a multi-label
run, a clean SKIP for a single-label one, and the results checks not crashing on either."""

import json

import numpy as np
import pandas as pd
import pytest

from harness.checks.runs.results import from_run as results_checks
from harness.checks.runs.tagging import co_occurrence, hierarchy
from harness.checks.runs.tagging import from_run as tagging_checks

GENRES = np.array(["Electronic", "Pop", "Rock", "Synth Pop"])
PARENTS = {"Electronic": None, "Pop": None, "Rock": None, "Synth Pop": "Pop"}


def _labels(rng, n):
    y = (rng.random((n, 4)) < [0.4, 0.3, 0.4, 0.2]).astype(np.int8)
    y[:, 1] |= y[:, 3]  # Synth Pop comes with its parent Pop
    y[0] = [0, 1, 0, 1]
    y[1] = [1, 0, 1, 0]
    return y


def _save(run_dir, name, keys, y, proba, **extra):
    model_dir = run_dir / "models" / name
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        model_dir / "predictions_test.npz",
        keys=np.asarray(keys).astype(str),
        y_true=y,
        classes=GENRES,
        proba=proba,
        proba_calibrated=proba,
        **extra,
    )


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("multi")
    rng = np.random.default_rng(0)
    y = _labels(rng, 40)
    keys = np.arange(100, 140)
    good = np.clip(0.6 * y + 0.4 * rng.random(y.shape), 0, 1)
    thresholds = np.full(4, 0.5)
    _save(run_dir, "mfcc-logreg", keys, y, good, thresholds=thresholds)
    _save(run_dir, "cnn", keys, y, rng.random(y.shape), thresholds=thresholds)
    _save(run_dir, "prior", keys, y, np.tile(y.mean(axis=0), (40, 1)), thresholds=thresholds)
    pd.DataFrame({"epoch": [1, 2], "train_loss": [0.6, 0.4], "val_log_loss": [0.5, 0.45]}).to_csv(
        run_dir / "models" / "cnn" / "history.csv", index=False
    )
    all_y = np.vstack([_labels(rng, 60), y])
    splits = ["training"] * 60 + ["test"] * 40
    table = pd.DataFrame(all_y, columns=GENRES, index=pd.Index(range(100), name="track_id"))
    table.insert(0, "split", splits)
    table.to_csv(run_dir / "genres_all.csv")
    info = {
        "min_genre_count": 5,
        "genres": list(GENRES),
        "dropped_genres": {"Dance": 2},
        "parents": PARENTS | {"Dance": "Electronic"},
        "notes": ["1 genre dropped"],
    }
    (run_dir / "tagging.json").write_text(json.dumps(info))
    return run_dir


def test_multilabel_run_gets_every_tagging_section(multi_run):
    results = {r.key: r for r in tagging_checks(multi_run)}
    assert list(results) == [
        "tagging/per_genre_scores",
        "tagging/thresholds_and_calibration",
        "labels/genres_all_distribution",
        "labels/genres_all_too_small",
        "tagging/dropped_genres",
        "tagging/co_occurrence",
        "tagging/hierarchy",
    ]
    scores = results["tagging/per_genre_scores"]
    table = scores.evidence
    assert {"mfcc-logreg ROC-AUC", "mfcc-logreg PR-AUC", "cnn PR-AUC"} <= set(table.columns)
    assert not any(c.startswith("prior") for c in table.columns)  # reference rows left out
    assert (table["mfcc-logreg ROC-AUC"] > 0.8).all()
    assert table["mfcc-logreg PR-AUC"].between(0, 1).all()
    assert "test split, 40 tracks, 4 genres" in scores.finding
    tuned = results["tagging/thresholds_and_calibration"].evidence.set_index("model")
    assert tuned.loc["cnn", "threshold median"] == 0.5
    dropped = results["tagging/dropped_genres"]
    assert dropped.verdict == "WARN" and dropped.evidence["genre"].tolist() == ["Dance"]
    counts = results["labels/genres_all_distribution"].evidence
    assert counts.loc["Pop", "training"] == int(
        pd.read_csv(multi_run / "genres_all.csv").query("split == 'training'")["Pop"].sum()
    )


def test_hierarchy_counts_parent_and_child_tags():
    labels = pd.DataFrame(
        {"Pop": [1, 1, 0, 1], "Synth Pop": [1, 1, 1, 0], "Rock": [0, 0, 1, 1]}
    )  # track 2 has Synth Pop without Pop
    result = hierarchy(labels, {"Pop": None, "Synth Pop": "Pop", "Rock": None})
    row = result.evidence.iloc[0]
    assert (row["child"], row["parent"]) == ("Synth Pop", "Pop")
    assert (row["child tracks"], row["with parent"], row["without parent"]) == (3, 2, 1)
    assert result.verdict == "WARN" and "Synth Pop" in result.finding
    assert hierarchy(labels, {}).verdict == "SKIP"  # no genre tree: nothing to count


def test_co_occurrence_ranks_pairs_by_tracks_together():
    labels = pd.DataFrame({"a": [1, 1, 1, 0], "b": [1, 1, 0, 0], "c": [0, 1, 0, 1]})
    result = co_occurrence(labels)
    first = result.evidence.iloc[0]
    assert (first["genre a"], first["genre b"], first["tracks with both"]) == ("a", "b", 2)
    assert first["jaccard"] == pytest.approx(2 / 3, abs=1e-3)
    assert "1.75 genres on average" in result.finding


def test_results_checks_skip_the_single_label_tables_but_keep_learning_curves(multi_run):
    results = results_checks(multi_run)
    assert [r.name for r in results] == ["comparison", "learning_curves"]
    assert results[0].verdict == "SKIP" and "tagging" in results[0].finding
    assert results[1].verdict == "PASS"


def test_single_label_run_is_skipped_cleanly(tmp_path):
    model_dir = tmp_path / "models" / "mfcc-logreg"
    model_dir.mkdir(parents=True)
    classes = np.array(["Pop", "Rock"])
    np.savez_compressed(
        model_dir / "predictions_test.npz",
        keys=np.array(["1", "2"]),
        y_true=classes,
        classes=classes,
        proba=np.eye(2),
        proba_calibrated=np.eye(2),
    )
    (result,) = tagging_checks(tmp_path)
    assert result.verdict == "SKIP" and "single-label" in result.finding
    (empty,) = tagging_checks(tmp_path / "nowhere")
    assert empty.verdict == "SKIP"
