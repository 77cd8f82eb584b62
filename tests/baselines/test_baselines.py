"""Baselines: every registered factory fits, predicts probabilities, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from harness.registry import BUILTIN_MODELS, FEATURES, get_entry, load_target

CLASSES = np.array(["Folk", "Pop", "Rock"])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 12))
    y_idx = np.repeat(np.arange(3), [30, 20, 10])
    X = centers[y_idx] + rng.normal(0, 1, size=(60, 12))
    X[:, 0] *= 1000.0  # badly scaled column: the Pipeline's scaler must handle it
    return X, CLASSES[y_idx]


@pytest.mark.parametrize("name", [e.name for e in BUILTIN_MODELS if e.consumes == FEATURES])
def test_factory_fits_predicts_and_is_seeded(name, data):
    X, y = data
    factory = load_target(get_entry(name).target)
    model = factory(random_state=3).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (60, 3) and list(model.classes_) == list(CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba >= 0).all()
    again = factory(random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(proba, again)
    X_nan = X[:5].copy()
    X_nan[:, 1] = np.nan  # a silent clip's undefined skew must not crash prediction
    assert np.isfinite(model.predict_proba(X_nan)).all()


@pytest.mark.parametrize("name", ["mfcc-logreg", "svm", "knn", "mlp"])
def test_learned_baselines_beat_chance(name, data):
    X, y = data
    model = load_target(get_entry(name).target)(random_state=0).fit(X[::2], y[::2])
    accuracy = (model.predict(X[1::2]) == y[1::2]).mean()
    assert accuracy > 0.8


def test_reference_points(data):
    from baselines.reference import make_prior, make_uniform

    X, y = data
    uniform = make_uniform().fit(X, y).predict_proba(X[:4])
    np.testing.assert_allclose(uniform, 1 / 3)
    prior = make_prior().fit(X, y).predict_proba(X[:4])
    np.testing.assert_allclose(prior, np.tile([30 / 60, 20 / 60, 10 / 60], (4, 1)))


def test_scaler_fitted_on_training_rows_only(data):
    from baselines.logistic import make_logreg

    X, y = data
    model = make_logreg(random_state=0).fit(X[:40], y[:40])
    np.testing.assert_allclose(model.named_steps["scale"].mean_, X[:40].mean(axis=0))
    assert not np.allclose(model.named_steps["scale"].mean_, X.mean(axis=0))


def test_knn_caps_k_and_smooths(data):
    from baselines.knn import make_knn

    X, y = data
    model = make_knn(n_neighbors=200).fit(X[:40], y[:40])  # 200 > 40 training rows
    assert model.named_steps["clf"].n_neighbors_ == 4
    proba = model.predict_proba(X)
    assert proba.min() > 0  # no exact zeros: finite log loss
    raw = make_knn(n_neighbors=5, alpha=0.0).fit(X, y).predict_proba(X)
    assert set(np.unique(raw * 5)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def _multi_hot(y):
    """Multi-hot (n, 4): one column per class of ``y``, plus a column that is never positive."""
    hot = (y[:, None] == CLASSES[None, :]).astype(np.int8)
    return np.column_stack([hot, np.zeros(len(y), dtype=np.int8)])


def test_reference_points_single_label_are_exactly_dummy_classifier(data):
    from sklearn.dummy import DummyClassifier

    from baselines.reference import make_prior, make_uniform

    X, y = data
    for factory, strategy in ((make_uniform, "uniform"), (make_prior, "prior")):
        ours = factory(random_state=3).fit(X, y)
        dummy = DummyClassifier(strategy=strategy, random_state=3).fit(X, y)
        np.testing.assert_array_equal(ours.predict_proba(X), dummy.predict_proba(X))
        np.testing.assert_array_equal(ours.predict(X), dummy.predict(X))
        assert list(ours.classes_) == list(dummy.classes_)


def test_reference_points_multi_label(data):
    from baselines.reference import make_prior, make_uniform

    X, y = data
    Y = _multi_hot(y)
    prior = make_prior().fit(X, Y).predict_proba(X[:3])
    np.testing.assert_allclose(prior, np.tile([30 / 60, 20 / 60, 10 / 60, 0.0], (3, 1)))
    uniform = make_uniform().fit(X, Y).predict_proba(X[:3])
    np.testing.assert_allclose(uniform, 0.25)  # one tag per track over 4 genres, every genre
    assert make_prior().__sklearn_tags__().classifier_tags.multi_label
