"""The skops estimator file: every built-in baseline's fitted estimator is covered by
``TRUSTED_TYPES`` (so the list cannot fall behind the baselines) and predicts the same after
the round trip; another type is refused naming it and the option that trusts it."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io

from harness.bundles.estimator_file import (
    TRUSTED_TYPES,
    load_estimator,
    load_pickle,
    save_estimator,
)
from harness.bundles.inputs import OneVsRestTagger
from harness.errors import DataError
from harness.registry import BUILTIN_MODELS, EMBEDDINGS, FEATURES, load_target

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 6))
Y_SINGLE = np.array(["Folk", "Jazz", "Rock"])[RNG.integers(0, 3, 80)]
Y_MULTI = (RNG.random((80, 3)) < 0.5).astype(np.int8)
TAGS = ["rock", "jazz", "folk"]
EMBEDDED = pd.DataFrame(
    RNG.random((80, 3)),
    columns=pd.MultiIndex.from_tuples([("musicnn-msd", "taggram", t) for t in TAGS]),
)


def _fitted_baselines():
    """(name, fitted estimator) of every built-in non-neural model, single- and multi-label."""
    for entry in BUILTIN_MODELS:
        if entry.consumes not in (FEATURES, EMBEDDINGS):
            continue
        factory = load_target(entry.target)
        if entry.consumes == FEATURES:
            yield entry.name, factory(random_state=0).fit(X, Y_SINGLE)
            yield (
                f"{entry.name} (multi-label)",
                OneVsRestTagger(factory(random_state=0)).fit(X, Y_MULTI),
            )
            continue
        params = {"candidates": [("musicnn-msd", "taggram")]} if "probe" in entry.name else {}
        single = factory(random_state=0, **params)
        multi = factory(random_state=0, **params)
        if "probe" in entry.name:
            yield entry.name, single.fit(EMBEDDED, Y_SINGLE, EMBEDDED, Y_SINGLE)
            yield f"{entry.name} (multi-label)", multi.fit(EMBEDDED, Y_MULTI, EMBEDDED, Y_MULTI)
        else:
            yield entry.name, single.fit(EMBEDDED, Y_SINGLE)
            yield (
                f"{entry.name} (multi-label)",
                multi.fit(EMBEDDED, Y_MULTI, genres=["Rock", "Jazz", "Folk"]),
            )


FITTED = list(_fitted_baselines())


def test_every_non_neural_builtin_is_exercised():
    names = {name for name, _ in FITTED}
    expected = {e.name for e in BUILTIN_MODELS if e.consumes in (FEATURES, EMBEDDINGS)}
    assert {"mfcc-logreg", "svm", "knn", "mlp", "prior", "uniform"} <= expected <= names


@pytest.mark.parametrize(("name", "estimator"), FITTED, ids=[n for n, _ in FITTED])
def test_trusted_types_cover_every_builtin_baseline(tmp_path, name, estimator):
    path = tmp_path / "model.skops"
    save_estimator(estimator, path)
    assert set(skops.io.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)
    loaded = load_estimator(path)  # no trust option needed
    inputs = EMBEDDED if hasattr(estimator, "required_inputs") else X
    assert np.allclose(loaded.predict_proba(inputs), estimator.predict_proba(inputs))


def test_another_type_is_refused_naming_it_and_the_option(tmp_path):
    import operator

    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "model.skops"
    save_estimator(FunctionTransformer(operator.neg).fit(X), path)
    with pytest.raises(DataError) as caught:
        load_estimator(path)
    message = str(caught.value)
    assert "_operator.neg" in message and "--trust-type _operator.neg" in message
    assert "\n" not in message
    assert load_estimator(path, trust=["_operator.neg"]).transform(X[:1])[0, 0] == -X[0, 0]


def test_a_pickle_is_not_a_skops_file_and_is_read_only_when_trusted(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(DataError, match="not a skops estimator file"):
        load_estimator(path)
    with pytest.raises(DataError, match="a pickle .* runs code"):
        load_pickle(path, trust_pickle=False)
    assert load_pickle(path, trust_pickle=True) == {"a": 1}
