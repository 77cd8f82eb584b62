"""``mfcc-logreg``: StandardScaler + LogisticRegression, the FMA paper's headline baseline.

The paper's Table 3 reports 58% test accuracy on fma_medium with MFCC-140 (scikit-learn's
defaults: L2, C = 1, multinomial). ``max_iter`` is raised so that lbfgs converges on
standardised MFCC statistics instead of stopping with a ConvergenceWarning.
"""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from baselines.reference import feature_pipeline


def make_logreg(
    *, random_state: int = 0, C: float = 1.0, max_iter: int = 5000, **params
) -> Pipeline:
    """StandardScaler + multinomial LogisticRegression (impute -> scale -> clf).

    Parameters
    ----------
    random_state : int
        Seed passed to the solver.
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        lbfgs iterations.
    **params
        Any other :class:`~sklearn.linear_model.LogisticRegression` parameter.
    """
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=random_state, **params)
    return feature_pipeline(clf)
