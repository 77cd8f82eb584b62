"""The probe and the zero-shot tagger on hand-made representation tables (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines.probe import EmbeddingProbe
from baselines.zeroshot import GENRE_TAGS, ZeroShotTagger


def _table(blocks: dict[tuple[str, str], np.ndarray], names=None) -> pd.DataFrame:
    frames = []
    for (source, representation), values in blocks.items():
        cols = (names or {}).get(representation) or [str(i) for i in range(values.shape[1])]
        index = pd.MultiIndex.from_tuples([(source, representation, c) for c in cols])
        frames.append(pd.DataFrame(values, columns=index))
    return pd.concat(frames, axis=1)


def _informative_and_noise(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = np.array(["Rock", "Jazz", "Folk"])[rng.integers(0, 3, n)]
    signal = np.eye(3)[np.searchsorted(["Folk", "Jazz", "Rock"], y)] * 3 + rng.normal(size=(n, 3))
    noise = rng.normal(size=(n, 5))
    X = _table({("a", "noise"): noise, ("b", "signal"): signal})
    return X, y


def test_probe_chooses_the_informative_representation_on_validation():
    X, y = _informative_and_noise(200, 0)
    X_val, y_val = _informative_and_noise(100, 1)
    probe = EmbeddingProbe(candidates=[("a", "noise"), ("b", "signal")]).fit(X, y, X_val, y_val)
    assert probe.selected_ == ("b", "signal")
    losses = {row["source"]: row["validation_log_loss"] for row in probe.selection_}
    assert losses["b"] < losses["a"]
    proba = probe.predict_proba(X_val)
    assert proba.shape == (100, 3) and np.allclose(proba.sum(axis=1), 1)
    assert (probe.predict(X_val) == y_val).mean() > 0.8
    assert probe.required_inputs() == [("b", "signal")]


def test_probe_multi_label_keeps_a_constant_genre_at_its_rate():
    X, y = _informative_and_noise(150, 2)
    Y = np.column_stack([(y == "Rock"), (y == "Jazz"), np.ones(len(y))]).astype(np.int8)
    probe = EmbeddingProbe(candidates=[("b", "signal")]).fit(X, Y, X, Y)
    proba = probe.predict_proba(X)
    assert proba.shape == (150, 3)
    assert np.allclose(proba[:, 2], 1.0)
    assert probe.predict(X)[:, 0].mean() == pytest.approx(Y[:, 0].mean(), abs=0.1)


def test_probe_names_a_missing_representation():
    X, y = _informative_and_noise(30, 3)
    with pytest.raises(ValueError, match=r"no \(c, pool\) columns"):
        EmbeddingProbe(candidates=[("c", "pool")]).fit(X, y)


def test_zeroshot_follows_the_tags_and_keeps_the_prior_of_uncovered_genres():
    tags = ["rock", "jazz", "pop"]
    taggram = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.1]])
    X = _table({("musicnn-msd", "taggram"): taggram}, names={"taggram": tags})
    y = np.array(["Rock"] * 4 + ["Jazz"] * 4 + ["Spoken"] * 2)
    X_train = pd.concat([X] * 5, ignore_index=True)
    model = ZeroShotTagger().fit(X_train, y)
    assert set(model.covered_) == {"Rock", "Jazz"}
    proba = model.predict_proba(X)
    spoken = list(model.classes_).index("Spoken")
    assert np.allclose(proba[:, spoken], 0.2)  # uncovered: its training frequency
    assert np.allclose(proba.sum(axis=1), 1)
    assert list(model.predict(X)) == ["Rock", "Jazz"]


def test_zeroshot_multi_label_uses_the_genre_names():
    X = _table(
        {("musicnn-msd", "taggram"): np.array([[0.7, 0.2]])}, names={"taggram": ["rock", "jazz"]}
    )
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    model = ZeroShotTagger().fit(
        pd.concat([X, X], ignore_index=True), Y, genres=["Rock", "Jazz", "Spoken"]
    )
    assert np.allclose(model.predict_proba(X), [[0.7, 0.2, 0.5]])


def test_genre_table_names_only_msd_tags():
    from models.musicnn.tags import MSD_TAGS

    msd = set(MSD_TAGS)
    assert {t for listed in GENRE_TAGS.values() for t in listed} <= msd
