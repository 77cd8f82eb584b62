"""``mlp``: StandardScaler + a one-hidden-layer perceptron (100 units), as in the FMA paper."""

from __future__ import annotations

from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from baselines.reference import feature_pipeline


def make_mlp(
    *,
    random_state: int = 0,
    hidden_layer_sizes: tuple[int, ...] = (100,),
    max_iter: int = 2000,
    **params,
) -> Pipeline:
    """StandardScaler + ``MLPClassifier(hidden_layer_sizes=(100,), max_iter=2000)``.

    Parameters
    ----------
    random_state : int
        Seed of the weight initialisation and of the mini-batch shuffling.
    hidden_layer_sizes : tuple of int
        Units per hidden layer.
    max_iter : int
        Maximum epochs (adam stops earlier when the loss plateaus).
    **params
        Any other :class:`~sklearn.neural_network.MLPClassifier` parameter.
    """
    clf = MLPClassifier(
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        random_state=random_state,
        **params,
    )
    return feature_pipeline(clf)
