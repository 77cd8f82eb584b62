"""The whole job and its parts: run configuration, the run itself, fitting one model, outputs.

Modules: :mod:`~harness.pipeline.config` (:class:`RunConfig`, ``run.toml``, checks before any
work), :mod:`~harness.pipeline.run` (:func:`run_pipeline`), :mod:`~harness.pipeline.model_run`
(fit, score and save one model), :mod:`~harness.pipeline.outputs` (leaderboard, submissions),
:mod:`~harness.pipeline.manifest` (provenance), :mod:`~harness.pipeline.check` (the data
checklist of ``fma-harness check``), :mod:`~harness.pipeline.bundle` (model bundles: save,
verify, load), :mod:`~harness.pipeline.predict` (``fma-harness predict``; files and features in
:mod:`~harness.pipeline.predict_inputs`, output formats in
:mod:`~harness.pipeline.predict_output`), :mod:`~harness.pipeline.export` (round-2 folder),
:mod:`~harness.pipeline.ensemble` (the ``ensemble`` row; its bundle of bundles in
:mod:`~harness.pipeline.ensemble_bundle`).
"""
