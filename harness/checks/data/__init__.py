"""The data checks: what one dataset holds, before any model is trained (stage ``"data"``).

Modules: :mod:`~harness.checks.data.audio` (decode status, faults),
:mod:`~harness.checks.data.duplicates` (identical files, the same audio under two ids),
:mod:`~harness.checks.data.leakage` (what the test set shares with training),
:mod:`~harness.checks.data.labels` (balance, hierarchy), :mod:`~harness.checks.data.mislabels`
(confident learning) with :mod:`~harness.checks.data.mislabel_classifier` (its out-of-fold
classifier), :mod:`~harness.checks.data.features` (non-finite, constant, shifted
features) and :mod:`~harness.checks.data.rhythm` (the rhythm descriptor the checks' own
classifiers read).
"""
