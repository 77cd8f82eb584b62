"""The run: one command from a dataset to a leaderboard, submissions and a report.

Modules: :mod:`~harness.run.pipeline` (:func:`run_pipeline`, the whole job),
:mod:`~harness.run.extraction` (the feature stage), :mod:`~harness.run.model_training` (fit
options, checkpoints, sanity), :mod:`~harness.run.lanes` (neural models side by side),
:mod:`~harness.run.model_run` (fit, score and save one model), :mod:`~harness.run.ensemble`
(the ``ensemble`` row), :mod:`~harness.run.embeddings` (embeddings and their 2-D maps),
:mod:`~harness.run.robustness` (``--robustness``), :mod:`~harness.run.seeds` (``--seeds``),
:mod:`~harness.run.outputs` (leaderboard, submissions), :mod:`~harness.run.manifest`
(provenance), :mod:`~harness.run.timing` (the stage table), :mod:`~harness.run.status` (failed
models, exit code), :mod:`~harness.run.check` (``fma-harness check``, the data checklist alone)
and :mod:`~harness.run.comparison` (``fma-harness compare``, several runs side by side).
"""
