"""The configuration of a run: one schema for the command line, ``run.toml`` and Python.

Modules: :mod:`~harness.config.run_config` (:class:`RunConfig`, ``run.toml``, and the checks
made before any work).
"""
