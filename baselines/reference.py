"""Reference points every report shows, and the preprocessing every baseline shares.

- ``uniform``: 1/C for each of the C training classes (log loss ln C, e.g. ln 16 = 2.7726).
- ``prior``: the training class frequencies, whatever the input.

:func:`feature_pipeline` is the front of every feature-based baseline: a median
:class:`~sklearn.impute.SimpleImputer` (so that a clip whose statistics are NaN, e.g. a silent
challenge clip with an undefined skew, still gets a prediction) and a
:class:`~sklearn.preprocessing.StandardScaler`. Both sit inside the Pipeline, so they are fitted
on the training rows only. Training should still drop failed clips first
(:func:`harness.features.drop_failed`, which says how many).
"""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def feature_pipeline(classifier: BaseEstimator, *, scale: bool = True) -> Pipeline:
    """``impute (median) -> [StandardScaler] -> classifier`` as one sklearn Pipeline.

    Parameters
    ----------
    classifier : sklearn classifier
        The final step (named ``"clf"``).
    scale : bool
        Standardise every feature to zero mean, unit variance (fitted on training rows).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Input: a 2-D float matrix (n_clips, n_features); NaN allowed.
    """
    steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("clf", classifier))
    return Pipeline(steps)


def make_uniform(*, random_state: int = 0, **params) -> Pipeline:
    """Predict 1/C for every class seen in training.

    Parameters
    ----------
    random_state : int
        Accepted for a uniform interface (``predict`` draws classes at random with it).
    """
    return Pipeline([("clf", DummyClassifier(strategy="uniform", random_state=random_state))])


def make_prior(*, random_state: int = 0, **params) -> Pipeline:
    """Predict the training class frequencies for every clip.

    Parameters
    ----------
    random_state : int
        Accepted for a uniform interface (the prior is deterministic).
    """
    return Pipeline([("clf", DummyClassifier(strategy="prior", random_state=random_state))])
