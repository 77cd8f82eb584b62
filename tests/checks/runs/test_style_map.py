"""The style map checks (harness/checks/runs/style_map.py) on constructed embeddings: separable
genres score high, shuffled ones near chance, and every missing piece is a SKIP with its reason."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.checks.runs.style_map import (
    MIN_LIFT,
    style_scores,
)
from harness.checks.runs.style_map import (
    from_run as style_map_checks,
)
from harness.run.embeddings import record_skip, tsne_map

GENRES = np.array(["Folk", "Jazz", "Pop", "Rock"])


def genre_clusters(n_per=20, *, seed=0, dim=16, spread=0.3):
    """Four genres around four random centres: (embedding (n, dim), labels (n,))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(GENRES), dim)) * 3
    labels = np.repeat(GENRES, n_per)
    noise = rng.normal(size=(len(labels), dim)) * spread
    return centres[np.repeat(np.arange(len(GENRES)), n_per)] + noise, labels


def write_run(run_dir, sources, *, models=("cnn",), **config):
    """A run directory with manifest.json and ``embeddings/<source>.npz`` for each source."""
    (run_dir / "embeddings").mkdir(parents=True, exist_ok=True)
    manifest = {"config": {"models": list(models), "seed": 0, **config}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    for source, (X, labels, extra) in sources.items():
        n = len(X)
        arrays = {
            "keys": np.array([f"k{i}" for i in range(n)]),
            "groups": np.array(["training", "validation", "test"] * n)[:n],
            "labels": labels,
            "year": np.full(n, np.nan),
            "embedding": X.astype(np.float32),
            "map": np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32),
            "source": np.array(source),
            "label_note": np.array("coloured by the run's genre labels"),
            "year_source": np.array(""),
            "map_metric": np.array("cosine"),
            "map_note": np.array(""),
            **extra,
        }
        np.savez(run_dir / "embeddings" / f"{source}.npz", **arrays)
    return run_dir


def by_name(results):
    return {r.name: r for r in results}


def test_separable_genres_score_high_and_shuffled_ones_near_chance():
    X, labels = genre_clusters()
    groups = np.array(["training", "test"] * 40)
    good = style_scores(X, labels, groups, seed=0)
    assert good["purity"] > 0.95 and good["chance"] == pytest.approx(19 / 79, abs=1e-3)
    assert good["ari"] > 0.9 and good["nmi"] > 0.9 and good["silhouette"] > 0.3
    assert good["lift"] >= MIN_LIFT
    assert list(good["table"].index) == [*GENRES, "all"]
    shuffled = np.random.default_rng(3).permutation(labels)
    bad = style_scores(X, shuffled, groups, seed=0)
    assert abs(bad["purity"] - bad["chance"]) < 0.1 and bad["lift"] < MIN_LIFT
    assert bad["ari"] < 0.1 and bad["silhouette"] < 0.05


def test_one_result_per_source_with_verdict_figure_and_year_panel(tmp_path):
    X, labels = genre_clusters()
    shuffled = np.random.default_rng(3).permutation(labels)
    years = np.linspace(2001, 2016, len(X)).round()
    dated = {"year": years, "year_source": np.array("album.date_released")}
    run = write_run(tmp_path, {"cnn": (X, labels, dated), "mfcc-140": (X, shuffled, {})})
    results = by_name(style_map_checks(run))
    cnn, mfcc = results["cnn"], results["mfcc-140"]
    assert (cnn.family, cnn.verdict, mfcc.verdict) == ("style map", "PASS", "WARN")
    assert "kNN purity 1.000" in cnn.finding and "ARI" in cnn.finding
    assert "year panel from album.date_released" in cnn.finding
    assert "no dates in the metadata: no year panel" in mfcc.finding
    assert cnn.figures[0][:4] == b"\x89PNG" and mfcc.action
    # two panels (genre, year) against one
    assert len(cnn.figures[0]) > len(mfcc.figures[0])
    assert results["unlabelled_neighbours"].verdict == "SKIP"  # every clip is labelled


def test_unlabelled_clips_get_their_nearest_genres_and_the_answer_key(tmp_path):
    X, labels = genre_clusters()
    rock = X[labels == "Rock"][:3] + 0.01
    X = np.vstack([X, rock])
    labels = np.concatenate([labels, ["", "", ""]])
    answers = tmp_path / "answers.csv"
    answers.write_text("file_id,genre\nk80,Rock\nk81,Rock\nk82,Pop\n")
    run = write_run(tmp_path / "run", {"cnn": (X, labels, {})}, answer_key=str(answers))
    result = by_name(style_map_checks(run))["unlabelled_neighbours"]
    assert result.verdict == "PASS"
    assert "the nearest genre is the answer key's for cnn 2/3" in result.finding
    table = pd.read_csv(run / "embeddings" / "unlabelled_neighbours.csv")
    assert list(table["key"]) == ["k80", "k81", "k82"]
    assert (table["genre_1"] == "Rock").all() and (table["share_1"] == 1.0).all()
    assert result.evidence.loc[("k80", "test"), "cnn"] == "Rock 1.0"


def test_skip_paths_name_their_reason(tmp_path):
    run = write_run(tmp_path / "none", {})
    results = by_name(style_map_checks(run))
    assert results["cnn"].verdict == results["mfcc-140"].verdict == "SKIP"
    assert "no embeddings file embeddings/cnn.npz" in results["cnn"].finding
    off = by_name(style_map_checks(write_run(tmp_path / "off", {}, style_map=False)))
    assert "--no-style-map" in off["cnn"].finding
    run = write_run(tmp_path / "nohead", {})
    # models trained side by side record their skips at once: each keeps its own reason
    record_skip(run, "cnn", "NoFinalLinearError: Net has no final linear layer")
    record_skip(run, "mfcc-140", "no clip has a finite MFCC-140 row")
    skipped = by_name(style_map_checks(run))
    assert "no final linear layer" in skipped["cnn"].finding
    assert "no clip has a finite MFCC-140 row" in skipped["mfcc-140"].finding
    X, labels = genre_clusters(n_per=2)
    few = {"map_note": np.array("8 clips; t-SNE needs at least 10")}
    run = write_run(tmp_path / "few", {"cnn": (X, labels, few)})
    arrays = dict(np.load(run / "embeddings" / "cnn.npz"))
    del arrays["map"]
    np.savez(run / "embeddings" / "cnn.npz", **arrays)
    result = by_name(style_map_checks(run))["cnn"]
    assert result.verdict == "SKIP" and "t-SNE needs at least 10" in result.finding
    X, labels = genre_clusters()
    note = {"label_note": np.array("multi-label run and the tracks table has no genre_top")}
    run = write_run(tmp_path / "multi", {"cnn": (X, np.full(len(X), ""), note)})
    result = by_name(style_map_checks(run))["cnn"]
    assert result.verdict == "SKIP" and "no genre_top" in result.finding


def test_the_map_needs_ten_clips_and_is_seeded():
    X, _ = genre_clusters(n_per=2)
    assert tsne_map(X, seed=0) == (None, "8 clips; t-SNE needs at least 10")
    X, _ = genre_clusters(n_per=5)
    first, note = tsne_map(X, seed=0)
    assert first.shape == (20, 2) and first.dtype == np.float32 and note == ""
    np.testing.assert_array_equal(first, tsne_map(X, seed=0)[0])
