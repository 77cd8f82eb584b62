"""Multi-label feature-table models: fitted one-vs-rest (or natively), never stopped by a genre
without positives, scored as per-genre log-odds."""

import re

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from harness.bundles.inputs import (
    FeatureTableModel,
    OneVsRestTagger,
    tag_probabilities,
    takes_multi_hot,
)
from harness.registry import BUILTIN_MODELS, FEATURES
from harness.run.model_run import FitOptions, build_estimator, fallback_notes


@pytest.fixture(scope="module")
def tagged():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    Y = np.column_stack(
        [
            X[:, 0] > 0,  # learnable
            X[:, 1] > 0.5,  # learnable
            np.zeros(60),  # no positive in training
            np.ones(60),  # no negative
            np.arange(60) < 3,  # three positives: too few for 5-fold Platt scaling
        ]
    ).astype(np.int8)
    return X, Y


@pytest.mark.parametrize("name", [e.name for e in BUILTIN_MODELS if e.consumes == FEATURES])
def test_every_feature_model_tags_without_crashing(name, tagged):
    X, Y = tagged
    model = build_estimator(name, task="genres_all", options=FitOptions(seed=0))
    model.fit(X, Y)
    logits = FeatureTableModel().logits(model, X, task="genres_all")
    assert logits.shape == (60, 5) and np.isfinite(logits).all()
    proba = 1 / (1 + np.exp(-logits))
    if name == "uniform":  # one rate for every genre: the mean number of tags over 5
        np.testing.assert_allclose(proba, Y.mean())
        return
    assert proba[:, 2].max() < 0.05 and proba[:, 3].min() > 0.95  # constant genres
    if name != "prior":
        learned = proba[:, 0][Y[:, 0] == 1].mean() - proba[:, 0][Y[:, 0] == 0].mean()
        assert learned > 0.2, name


def test_single_label_estimators_are_not_wrapped():
    plain = build_estimator("mfcc-logreg", task="genre_top")
    assert not isinstance(plain, OneVsRestTagger)
    assert isinstance(build_estimator("mfcc-logreg", task="genres_all"), OneVsRestTagger)
    assert takes_multi_hot(build_estimator("mlp", task="genres_all"))  # MLP: one sigmoid net


def test_a_genre_whose_fit_fails_predicts_its_training_frequency(tagged):
    X, Y = tagged
    svc = SVC(random_state=0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    model = OneVsRestTagger(CalibratedClassifierCV(svc, cv=folds)).fit(X, Y)
    assert sorted(model.fallbacks_) == [2, 3, 4]
    assert "5-fold" in model.fallbacks_[4] and model.fallbacks_[2] == "one class only in training"
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[:, 4], 3 / 60)
    assert model.predict(X).shape == (60, 5)
    (note,) = fallback_notes(model, ["a", "b", "c", "d", "e"])
    assert note.startswith("3 genres at their training frequency: c (one class only")


def test_list_shaped_multi_output_probabilities(tagged):
    X, Y = tagged
    native = DummyClassifier(strategy="prior").fit(X, Y)  # predict_proba: one array per genre
    proba = tag_probabilities(native, X)
    np.testing.assert_allclose(proba[0], Y.mean(axis=0))


class _Broken:
    """A user's classifier whose outputs break the contract in one way."""

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def fit(self, X, y):
        labels = sorted(set(y))
        self.classes_ = np.arange(len(labels)) if self.fault == "int-classes" else np.array(labels)
        return self

    def predict_proba(self, X):
        n, c = len(X), len(self.classes_)
        proba = np.full((n, c), 1.0 / c)
        if self.fault == "column-short":
            return proba[:, 1:]
        if self.fault == "row-short":
            return proba[1:]
        return proba * 5 if self.fault == "sums-to-5" else proba


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("int-classes", "classes_ are [0, 1, 2], not the training labels [a, b, c]"),
        ("column-short", "predict_proba gave shape (6, 2) for 6 clips and 3 classes_"),
        ("row-short", "predict_proba gave shape (5, 3) for 6 clips and 3 classes_"),
        ("sums-to-5", "predict_proba rows must sum to 1; 6 of 6 do not (row 0 sums to 5)"),
    ],
)
def test_a_feature_model_that_breaks_the_contract_says_how(fault, message):
    # these failed deep in the scoring (KeyError, IndexError) or were renormalised silently
    from harness.bundles.inputs import FeatureTableModel
    from harness.errors import DataError

    X, y = np.zeros((6, 4)), np.array(list("abcabc"))
    kind, model = FeatureTableModel(), _Broken(fault)
    with pytest.raises(DataError, match=re.escape(message)):
        kind.fit(model, X, y, X, y)
        kind.logits(model, X)


def test_a_factory_without_random_state_is_told_to_take_it():
    from harness.bundles.inputs import construct_estimator
    from harness.errors import ParameterError

    def build(): ...

    with pytest.raises(ParameterError, match="its factory does not take random_state"):
        construct_estimator("mine", build, random_state=0)
