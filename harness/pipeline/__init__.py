"""The whole job and its parts: run configuration, the run itself, fitting one model, outputs.

Modules: :mod:`~harness.pipeline.config` (:class:`RunConfig`, ``run.toml``, checks before any
work), :mod:`~harness.pipeline.run` (:func:`run_pipeline`), :mod:`~harness.pipeline.model_run`
(fit, score and save one model), :mod:`~harness.pipeline.outputs` (leaderboard, submissions),
:mod:`~harness.pipeline.manifest` (provenance), :mod:`~harness.pipeline.check` (the data
checklist of ``fma-harness check``).
"""
