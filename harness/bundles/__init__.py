"""Model bundles: a trained model as one folder that alone suffices to predict any audio.

Modules: :mod:`~harness.bundles.bundle` (write, verify, load),
:mod:`~harness.bundles.estimator_file` (a scikit-learn estimator as ``model.skops``, built from
trusted types only), :mod:`~harness.bundles.inputs`
(what a feature-table model and a log-mel model read and how each is fitted),
:mod:`~harness.bundles.featurise` (audio files to the features a bundle reads),
:mod:`~harness.bundles.ensemble` (the ensemble's arithmetic and its bundle of bundles),
:mod:`~harness.bundles.predict` (``fma-harness predict``), :mod:`~harness.bundles.output` (its
output formats, appended and resumable) and :mod:`~harness.bundles.export` (``fma-harness
export``, the challenge's round-2 folder).
"""
