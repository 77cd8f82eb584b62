"""The configuration of a run: one schema for the command line, ``run.toml`` and Python.

Modules: :mod:`~harness.config.run_config` (:class:`RunConfig`, ``run.toml``, the checks made
before any work) and :mod:`~harness.config.model_settings` (the device, and each model's
``[params.NAME]`` against what its factory accepts and can build).
"""
